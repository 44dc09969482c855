#!/usr/bin/env bash
# `pip install .` of the Python package into a fresh virtual environment, the way a user installs
# it into a trainer's Python, then the package used from outside the checkout: the core decides,
# and (under the system Python, which has the stand-ins' numpy and torch) every adapter module
# imports with the framework stand-ins on the path. Run for the system Python and for every
# CPython from 3.10 to 3.13 that pyenv holds on this machine (${PYENV_ROOT:-~/.pyenv}/versions).
#   tests/plugin_python/pip_install_test.sh REPO WORK_DIR
# Offline (no package index here): --no-build-isolation with the system's pybind11 (its CMake
# package) and setuptools. The system Python's venv sees them through --system-site-packages; a
# pyenv Python gets Debian's pure-Python setuptools and wheel on PYTHONPATH for the build only
# (pyenv's 3.12 and 3.13 come with no setuptools, and none with wheel).
set -euo pipefail
repo=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
system_python=${SPARSEGATE_PYTHON:-/usr/bin/python3}

build_tools="$work/build-tools"
mkdir -p "$build_tools"
for entry in setuptools pkg_resources _distutils_hack wheel; do
  ln -s "/usr/lib/python3/dist-packages/$entry" "$build_tools/$entry"
done
for info in /usr/lib/python3/dist-packages/setuptools-*info /usr/lib/python3/dist-packages/wheel-*info; do
  ln -s "$info" "$build_tools/"
done

# install_and_check NAME PYTHON VENV_FLAGS TOOLS_PATH ADAPTERS(0/1)
install_and_check() {
  local name=$1 python=$2 venv_flags=$3 tools=$4 adapters=$5
  local venv="$work/$name/venv"
  "$python" -m venv $venv_flags "$venv"
  PYTHONPATH="$tools" SPARSEGATE_BUILD_JOBS=${SPARSEGATE_BUILD_JOBS:-2} \
    "$venv/bin/pip" install --no-build-isolation --no-deps --no-cache-dir -q "$repo"
  # Nothing of the checkout on sys.path from here on.
  (cd "$work/$name" && SPARSEGATE_ADAPTERS=$adapters PYTHONPATH="$repo/tests/plugin_python/stubs" "$venv/bin/python" - <<'PY'
import os, sys
import sparsegate
where = os.path.dirname(sparsegate.__file__)
assert where.startswith(sys.prefix), f"sparsegate imported from {where}, not the venv {sys.prefix}"
schema = sparsegate.FeatureSchema.for_feature_sets(["layer-1/last_token"])
plugin = sparsegate.TrainerPlugin.create(schema, sparsegate.PluginConfig(prior_hardest_pass_rate=0.2))
features = sparsegate.PromptFeatures(metrics=[0.5] * len(schema), token_count=5)
[d] = plugin.decide([{"id": "q", "text": "1 + 1 = ?", "reference": "It is 2."}], [features])
assert d.kind == "keep", d
plugin.observe("q", [1.0, 0.0], completion_tokens=[3, 5])
import sparsegate.filters  # noqa: F401
adapters = "core only"
if os.environ["SPARSEGATE_ADAPTERS"] == "1":
    import sparsegate.verl, sparsegate.trl, sparsegate.openrlhf  # noqa: E401
    adapters = "adapters import"
print(f"Python {sys.version.split()[0]}: pip-installed sparsegate {sparsegate.__version__} at {where}: "
      f"decided {d.kind}, {adapters}")
PY
  )
}

install_and_check system "$system_python" --system-site-packages "" 1
checked=1
pyenv_versions=${PYENV_ROOT:-$HOME/.pyenv}/versions
for minor in 10 11 12 13; do
  for python in "$pyenv_versions"/3."$minor".*/bin/python3; do
    [[ -x $python ]] || continue
    install_and_check "cpython-3.$minor" "$python" "" "$build_tools" 0
    checked=$((checked + 1))
    break  # one interpreter per minor version
  done
done
echo "pip install checked under $checked Pythons"
