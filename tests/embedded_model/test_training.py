"""The embedded model's training script is deterministic: two runs with the same seed write the
same bytes, a different seed writes others, and the C++ side loads what it writes.

A tiny configuration (--size test, a few steps) stands in for the full 35-minute run; the code path
is the same. Needs SPARSEGATE_BIN (the script tokenizes with it); CTest sets it.
"""
import hashlib
import json
import os
import subprocess
import sys

import pytest

BIN = os.environ.get("SPARSEGATE_BIN", "")
TRAIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "embedded_model", "train.py")

pytestmark = pytest.mark.skipif(not os.path.isfile(BIN), reason=f"needs SPARSEGATE_BIN (got {BIN!r})")


def train(out, seed):
    subprocess.run([sys.executable, TRAIN, "--out", str(out), "--sparsegate", BIN, "--size", "test", "--steps", "12",
                    "--batch", "8", "--warmup", "2", "--log-every", "4", "--seed", str(seed)],
                   check=True, capture_output=True, text=True)
    with open(out / "model.safetensors", "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_same_seed_same_bytes(tmp_path):
    a, b, c = train(tmp_path / "a", 0), train(tmp_path / "b", 0), train(tmp_path / "c", 1)
    assert a == b
    assert a != c
    log = json.load(open(tmp_path / "a" / "training_log.json"))
    assert [step for step, _ in log["loss_curve"]] == [4, 8, 12]
    assert log["loss_curve"][-1][1] < log["loss_curve"][0][1]  # it learns something even in 12 steps


def test_the_cpp_side_loads_the_checkpoint(tmp_path):
    train(tmp_path / "m", 0)
    row = json.dumps({"prompt": "Q: 12 + 34 = ?"}) + "\n"
    out = subprocess.run([BIN, "score", "--model", str(tmp_path / "m")], input=row, capture_output=True, text=True,
                         check=True).stdout
    assert json.loads(out)["features"][0]["layer"] == 2
    out = subprocess.run([BIN, "generate", "--model", str(tmp_path / "m"), "--max-new-tokens", "4"], input=row,
                         capture_output=True, text=True, check=True).stdout
    assert len(json.loads(out)["completions"]) == 1
