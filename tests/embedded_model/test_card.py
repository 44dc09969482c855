"""The model card's measurement (scripts/embedded_model/measure.py): its statistics are right, it reads
answers the way the traces write them, and the recorded card_data.json of the embedded model
reproduces when a subset is measured again (needs the built CLI in SPARSEGATE_BIN)."""
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(ROOT, "scripts", "embedded_model", "measure.py")
MODEL = os.path.join(ROOT, "models", "arith-3m")
sys.path.insert(0, os.path.dirname(SCRIPT))
import measure  # noqa: E402


def test_ranks_average_ties():
    assert list(measure.ranks([10, 20, 20, 5])) == [2.0, 3.5, 3.5, 1.0]


def test_spearman():
    x = np.arange(50.0)
    assert measure.spearman(x, x ** 3) == pytest.approx(1.0)
    assert measure.spearman(x, -x) == pytest.approx(-1.0)
    assert np.isnan(measure.spearman(x, np.zeros(50)))  # a constant side has no correlation
    # A relation carried entirely by z vanishes once z is controlled for.
    rng = np.random.default_rng(0)
    z = rng.normal(size=400)
    x, y = z + 0.1 * rng.normal(size=400), z + 0.1 * rng.normal(size=400)
    assert measure.spearman(x, y) > 0.9
    assert abs(measure.partial_spearman(x, y, z)) < 0.2


def test_final_answer_is_the_last_capital_so_sentence():
    trace = "\nA: 7*5=35 write 5 carry 3. write 3. so 7*5 = 35. So 7 * 5 = 35."
    assert measure.final_answer(trace) == "35"
    assert measure.final_answer("\nA: So 9 - 5 = 4. So 9 - 5 = 3.") == "3"
    assert measure.final_answer("\nA: 9-5=4 write 4. So 9 - 5 =") is None


def test_evaluation_set_is_deterministic_and_excludes_training_prompts():
    seen = {"Q: 1 + 2 = ?"}
    a, levels = measure.evaluation_set(3, 0, seen)
    b, _ = measure.evaluation_set(3, 0, seen)
    assert a == b
    assert len(a) == 3 * len(measure.OPS) * len(measure.DIGITS)
    assert all(p["held_out"] == (p["prompt"] not in seen) for p in a)
    assert len({p["id"] for p in a}) == len(a)


@pytest.mark.skipif(not os.path.exists(os.path.join(MODEL, "card_data.json")),
                    reason="models/arith-3m/card_data.json not measured yet")
@pytest.mark.skipif(not os.environ.get("SPARSEGATE_BIN"), reason="SPARSEGATE_BIN (the sparsegate CLI) not set")
def test_card_data_reproduces():
    result = subprocess.run([sys.executable, SCRIPT, "--model", MODEL, "--sparsegate", os.environ["SPARSEGATE_BIN"],
                             "--check"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
