#!/usr/bin/env bash
# `pip install .` of the Python package into a fresh virtual environment, the way a user installs
# it into a trainer's Python, then the package used from outside the checkout: the core decides,
# and every adapter module is importable with the framework stand-ins on the path.
#   tests/plugin_python/pip_install_test.sh REPO WORK_DIR
# Offline (no package index here): --no-build-isolation with the system's setuptools and pybind11,
# which a venv with --system-site-packages sees.
set -euo pipefail
repo=$1
work=$2
rm -rf "$work"
python3_bin=${SPARSEGATE_PYTHON:-/usr/bin/python3}
"$python3_bin" -m venv --system-site-packages "$work/venv"
SPARSEGATE_BUILD_JOBS=${SPARSEGATE_BUILD_JOBS:-2} \
  "$work/venv/bin/pip" install --no-build-isolation --no-deps --no-cache-dir -q "$repo"
cd "$work"  # nothing of the checkout on sys.path from here on
PYTHONPATH="$repo/tests/plugin_python/stubs" "$work/venv/bin/python" - <<'PY'
import os, sys
import sparsegate
where = os.path.dirname(sparsegate.__file__)
assert where.startswith(sys.prefix), f"sparsegate imported from {where}, not the venv {sys.prefix}"
schema = sparsegate.FeatureSchema.for_feature_sets(["layer-1/last_token"])
plugin = sparsegate.TrainerPlugin.create(schema, sparsegate.PluginConfig(prior_hardest_pass_rate=0.2))
features = sparsegate.PromptFeatures(metrics=[0.5] * len(schema), token_count=5)
[d] = plugin.decide([{"id": "q", "text": "1 + 1 = ?", "reference": "It is 2."}], [features])
assert d.kind == "keep", d
plugin.observe("q", [1.0, 0.0])
import sparsegate.filters, sparsegate.verl, sparsegate.trl, sparsegate.openrlhf  # noqa: E401
print(f"pip-installed sparsegate {sparsegate.__version__} at {where}: decided {d.kind}, adapters import")
PY
