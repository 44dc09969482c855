"""`sparsegate evaluate` end to end on the embedded model: a dataset with outcomes in its rows (or
in an outcomes file), control fields named on the command line, bad rows rejected with their
lines and none lost, the JSON and the page written, and the same numbers through a real
`sparsegate serve` on loopback as in process.

Environment (set by CTest): SPARSEGATE_BIN, the built CLI; SPARSEGATE_MODEL, the embedded model.
"""
import json
import os
import subprocess
import sys

import pytest

BIN = os.environ.get("SPARSEGATE_BIN", "")
MODEL = os.environ.get("SPARSEGATE_MODEL", "")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "server"))
from loopback_server import LoopbackServer  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (os.path.isfile(BIN) and os.path.isfile(os.path.join(MODEL, "model.safetensors"))),
    reason=f"needs SPARSEGATE_BIN and SPARSEGATE_MODEL (got {BIN!r}, {MODEL!r})")

ENV = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
BAD = [
    ('{"id": "no-outcome-pair", "prompt": "Q: 1 + 2 = ?", "op": "add", "digits": 1, "successes": 3}',
     "field 'trials' is missing"),
    ('{"id": "no-control", "prompt": "Q: 1 + 2 = ?", "digits": 1, "successes": 1, "trials": 8}',
     "missing control field 'op'"),
    ('{"id": "too-many", "prompt": "Q: 1 + 2 = ?", "op": "add", "digits": 1, "successes": 9, "trials": 8}',
     "need 0 <= successes <= trials"),
    ('not json', "invalid JSON"),
]


def dataset(tmp_path, with_bad=True):
    """The demo's problems with their measured outcomes joined into the rows (half have none)."""
    demo = os.path.join(MODEL, "demo")
    with open(os.path.join(demo, "outcomes.jsonl")) as f:
        outcomes = {o["id"]: o for o in map(json.loads, f)}
    lines = []
    with open(os.path.join(demo, "problems.jsonl")) as f:
        for row in map(json.loads, f):
            if row["id"] in outcomes:
                row.update(successes=outcomes[row["id"]]["successes"], trials=outcomes[row["id"]]["trials"])
            lines.append(json.dumps(row))
    if with_bad:
        for k, (text, _) in enumerate(BAD):
            lines.insert(5 + 7 * k, text)
    path = tmp_path / "problems.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path, len(lines), len(outcomes)


def evaluate(tmp_path, name, *args, bootstrap=200):
    out = tmp_path / name
    run = subprocess.run([BIN, "evaluate", "-o", str(out), "--bootstrap", str(bootstrap), "--model", MODEL,
                          *map(str, args)],
                         capture_output=True, text=True, env=ENV, timeout=600)
    return run, out


def test_evaluates_every_row_with_an_outcome_and_rejects_bad_rows(tmp_path):
    path, total, with_outcome = dataset(tmp_path)
    run, out = evaluate(tmp_path, "ev", "-i", path, "--control", "op,digits:categorical")
    assert run.returncode == 1, run.stderr  # rows were rejected
    e = json.loads((out / "evaluation.json").read_text())
    rows = e["input_rows"]
    assert rows["total"] == total
    assert rows["evaluated"] == with_outcome
    assert rows["evaluated"] + rows["rejected"] + rows["without_outcome"] == total
    rejects = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    assert len(rejects) == len(BAD)
    for (_, why), r in zip(BAD, sorted(rejects, key=lambda r: r["line"])):
        assert why in r["error"], r
        assert f"{path}:{r['line']}: " in run.stderr
    names = [m["name"] for m in e["models"]]
    assert names == ["length", "controls", "metrics", "probe", "controls+metrics", "controls+probe", "predictor",
                     "predictor+controls"]
    families = [f["family"] for f in e["families"]]
    assert families == ["overall", "op", "digits", "token_count", "op x digits", "op x digits x token_count"]
    headline = e["headline"]["sentence"]
    assert headline.startswith("Beyond op, digits and length") and "95% CI" in headline
    for c in e["headline"]["comparisons"]:
        d = c["auroc_difference"]
        assert d["low"] <= d["value"] <= d["high"]
    page = (out / "evaluation.html").read_text()
    assert headline.split(" (")[0] in page and "Within op x digits" in page
    assert headline in run.stdout


def test_outcomes_file_gives_the_same_numbers_as_row_fields(tmp_path):
    path, _, _ = dataset(tmp_path, with_bad=False)
    run, a = evaluate(tmp_path, "rows", "-i", path, "--control", "op", "--no-predictor")
    assert run.returncode == 0, run.stderr
    demo = os.path.join(MODEL, "demo")
    run, b = evaluate(tmp_path, "file", "-i", os.path.join(demo, "problems.jsonl"), "--outcomes",
                      os.path.join(demo, "outcomes.jsonl"), "--control", "op", "--no-predictor")
    assert run.returncode == 0, run.stderr
    ea, eb = (json.loads((d / "evaluation.json").read_text()) for d in (a, b))
    assert ea["rows"] == eb["rows"]
    # The batcher's batches depend on timing, and padding moves features in the last float digits.
    for fa, fb in zip(ea["families"], eb["families"]):
        for ra, rb in zip(fa["results"], fb["results"]):
            for key in ("auroc", "spearman"):
                assert ra[key]["value"] == pytest.approx(rb[key]["value"], abs=1e-6), (fa["family"], ra["model"], key)


def test_a_served_model_gives_the_same_evaluation(tmp_path):
    path, _, _ = dataset(tmp_path, with_bad=False)
    run, local = evaluate(tmp_path, "local", "-i", path, "--control", "op", "--no-predictor", bootstrap=50)
    assert run.returncode == 0, run.stderr
    server = LoopbackServer(BIN, MODEL)
    try:
        run = subprocess.run([BIN, "evaluate", "-o", str(tmp_path / "remote"), "--bootstrap", "50", "-i", str(path),
                              "--control", "op", "--no-predictor", "--server", server.target],
                             capture_output=True, text=True, env=ENV, timeout=600)
    finally:
        server.stop()
    assert run.returncode == 0, run.stderr
    el, er = (json.loads((d / "evaluation.json").read_text()) for d in (local, tmp_path / "remote"))
    for fl, fr in zip(el["families"], er["families"]):
        for rl, rr in zip(fl["results"], fr["results"]):
            assert rl["auroc"]["value"] == pytest.approx(rr["auroc"]["value"], abs=1e-6), (fl["family"], rl["model"])


def test_too_few_rows_with_outcomes_is_a_clear_error(tmp_path):
    path = tmp_path / "tiny.jsonl"
    path.write_text("".join(json.dumps({"id": i, "prompt": f"Q: {i} + 1 = ?", "successes": i % 2, "trials": 1}) + "\n"
                            for i in range(5)))
    run, _ = evaluate(tmp_path, "tiny", "-i", path)
    assert run.returncode == 2
    assert "5 scored rows with outcomes in 5 groups; need at least 10 groups" in run.stderr
