#!/usr/bin/env bash
# Writes a throwaway PKI for the TLS tests into DIR (default: the current directory), with OpenSSL:
#   ca.pem ca.key                 the test CA
#   server.pem server.key         signed by it, for localhost and 127.0.0.1
#   client.pem client.key         signed by it, for client authentication (mTLS)
#   rogue_ca.pem                  another CA
#   rogue_client.pem rogue_client.key  signed by the other CA: a client the server must refuse
# Certificates are valid for two days; nothing here is ever a real secret.
set -euo pipefail
dir=${1:-.}
mkdir -p "$dir"
cd "$dir"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() {  # name, subject
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 2 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}
leaf() {  # name, ca, subject, extensions
  key "$1.key"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$3"
  printf '%s\n' "$4" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -out "$1.pem" -days 2 \
    -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
ca ca "sparsegate test CA"
ca rogue_ca "some other CA"
leaf server ca localhost $'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth'
leaf client ca "trainer rank 0" 'extendedKeyUsage=clientAuth'
leaf rogue_client rogue_ca "not a trainer" 'extendedKeyUsage=clientAuth'
rm -f ./*.srl
