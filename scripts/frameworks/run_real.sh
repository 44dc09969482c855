#!/usr/bin/env bash
# Runs tests/plugin_python against the real verl / verl-recipe / TRL / OpenRLHF source instead of
# the stand-ins in tests/plugin_python/stubs, traces which real functions each test executed, and
# writes the table tests/plugin_python/REAL_FRAMEWORKS.md (see stubs/README.md, "Against the real
# frameworks").
#
#   scripts/frameworks/run_real.sh --export DEST --verl-git G --recipe-git G --trl-git G --openrlhf-git G \
#       [--torchdata-git G]
#       exports the pinned commits (stubs/README.md's table) from those git dirs (any clone's .git,
#       or a bare mirror) into DEST/{verl,trl,openrlhf,torchdata}, the recipe into DEST/verl/recipe,
#       and runs.
#   scripts/frameworks/run_real.sh ROOT[:ROOT...]
#       runs against folders that already hold verl/, recipe/, trl/, openrlhf/, torchdata/
#       (checkouts, or a site-packages with the frameworks installed). torchdata (pytorch/data, pure
#       Python) is verl's StatefulDataLoader: without it the tests that drive verl's fit() are not
#       runnable.
# Environment: PYTHON (default /usr/bin/python3), PYTHONPATH must find sparsegate (default
# build/python), TABLE (default tests/plugin_python/REAL_FRAMEWORKS.md); extra args after -- go to pytest.
# Needs (Debian): python3-cachetools python3-tqdm python3-omegaconf python3-antlr4 python3-filelock
# python3-yaml python3-aiohttp (checked below).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
PYTHON="${PYTHON:-/usr/bin/python3}"
TABLE="${TABLE:-$REPO/tests/plugin_python/REAL_FRAMEWORKS.md}"
VERL=b178a3cd56f58b2d502255daba591e92833930a7
RECIPE=21892b9276936efab5375c3f6b8415e472ef7118
TRL=f2cd57710ae345ea6428ae95363267fcf38a3dc8
OPENRLHF=3c3be6234e0cb353e76bb8019947db9dfe99fca7
TORCHDATA=088e43477c1c750c26ea6c1466b708c45cc8ba30   # pytorch/data; its StatefulDataLoader runs on torch 1.13

ROOTS=""; DEST=""; declare -A GIT=()
while [ $# -gt 0 ]; do
  case "$1" in
    --export) DEST="$2"; shift 2 ;;
    --verl-git|--recipe-git|--trl-git|--openrlhf-git|--torchdata-git) k="${1#--}"; GIT["${k%-git}"]="$2"; shift 2 ;;
    --) shift; break ;;
    *) ROOTS="$1"; shift ;;
  esac
done
export_tree() {  # git dir, commit, destination
  rm -rf "$3"; mkdir -p "$3"
  git --git-dir="$1" archive "$2" | tar -x -C "$3"
}
if [ -n "$DEST" ]; then
  export_tree "${GIT[verl]}" $VERL "$DEST/verl"
  export_tree "${GIT[recipe]}" $RECIPE "$DEST/verl/recipe"   # verl's recipe/ submodule, at its pin
  export_tree "${GIT[trl]}" $TRL "$DEST/trl"
  export_tree "${GIT[openrlhf]}" $OPENRLHF "$DEST/openrlhf"
  ROOTS="$DEST/verl:$DEST/trl:$DEST/openrlhf"
  if [ -n "${GIT[torchdata]:-}" ]; then
    rm -rf "$DEST/torchdata"; mkdir -p "$DEST/torchdata"
    git --git-dir="${GIT[torchdata]}" archive $TORCHDATA torchdata | tar -x -C "$DEST/torchdata"
    ROOTS="$ROOTS:$DEST/torchdata"
  fi
fi
[ -n "$ROOTS" ] || { sed -n 2,22p "$0"; exit 2; }

# The third-party packages the frameworks import that Debian has are used for real, not faked
# (real_frameworks.DEBIAN); say which are missing rather than run with fewer real modules.
missing="$(cd "$REPO/tests/plugin_python" && "$PYTHON" -c '
import importlib.util, real_frameworks
print(" ".join(p for m, p in real_frameworks.DEBIAN.items() if importlib.util.find_spec(m) is None))')"
if [ -n "$missing" ]; then
  echo "run_real.sh: missing Debian packages; install them with: apt-get install $missing" >&2
  exit 2
fi

REPORT="$(mktemp --suffix=.json)"
cd "$REPO"
set +e
SPARSEGATE_REAL_FRAMEWORKS="$ROOTS" SPARSEGATE_REAL_REPORT="$REPORT" PYTHONPATH="${PYTHONPATH:-$REPO/build/python}" \
  "$PYTHON" -m pytest -q -p no:cacheprovider -rfE --continue-on-collection-errors --ignore=tests/plugin_python/test_signatures.py tests/plugin_python "$@"
status=$?
set -e
"$PYTHON" "$REPO/scripts/frameworks/real_table.py" "$REPORT" "$TABLE" \
  --commits "verl=$VERL" "verl-recipe=$RECIPE" "trl=$TRL" "openrlhf=$OPENRLHF" "torchdata=$TORCHDATA"
echo "table: $TABLE (pytest exit $status)"
