#!/usr/bin/env bash
# Installs what sparsegate needs from Debian 12 and builds it.
#   scripts/setup.sh            install packages (when missing) and build into build/
#   SKIP_APT=1 scripts/setup.sh build only
# Idempotent: a second run installs nothing and rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache git
  libtorch-dev python3-torch              # model forward (ATen) and the reference implementation in tests
  libopenblas0-openmp                     # without it libtorch falls back to reference BLAS (~35x slower)
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libboost-dev libboost-system-dev        # Boost.Asio: worker and tokenizer pools
  libpcre2-dev libutf8proc-dev libssl-dev # tokenizer regex, NFC normalisation, SHA-256 model digest
  libonig-dev                             # Oniguruma, against which the tokenizer regexes are checked (tests only)
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  pybind11-dev pybind11-json-dev python3-dev python3-numpy python3-pytest python3-jinja2
  python3-pip python3-venv python3-setuptools python3-wheel   # `pip install .` of the Python package (tests)
  python3-yaml                                  # the Kubernetes manifests test
  python3-scipy python3-matplotlib              # statistics and charts of the model card and the RL report
  python3-grpcio python3-protobuf               # the Python baseline service of the speed benchmark (P3)
  clang libclang-rt-14-dev                      # the sanitizer tree and libFuzzer (scripts/sanitize.sh)
  openssl                                       # the TLS tests make their certificates with it
  nodejs npm                              # tokenizer parity reference (tests only)
)

if [[ "${SKIP_APT:-0}" != 1 ]]; then
  missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # node and npm may come from outside Debian (e.g. a preinstalled Node.js); don't fight it.
  if command -v node >/dev/null && command -v npm >/dev/null; then
    missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
  fi
  read -r -a missing <<<"${missing[*]}"
  if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    SUDO=""; [[ $(id -u) != 0 ]] && SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

BUILD_DIR=${BUILD_DIR:-build}
BUILD_TYPE=${BUILD_TYPE:-Release}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
# Two cores and heavy libtorch headers: one job per core keeps memory in check.
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}"
echo "setup: built into $BUILD_DIR/"
