"""The offline commands' edges, as a careless operator meets them: a directory as --input, a line too
long to parse, blank lines, token ids past int32, and a --control field missing from rows. Each
gets an error or a warning that names the file and line, fast, and no row is lost or wrapped.

Environment (set by CTest): SPARSEGATE_BIN, the built CLI; SPARSEGATE_MODEL, the embedded model.
"""
import json
import os
import subprocess
import sys
import time

import pytest

BIN = os.environ.get("SPARSEGATE_BIN", "")
MODEL = os.environ.get("SPARSEGATE_MODEL", "")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts", "embedded_model"))
import arithmetic  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (os.path.isfile(BIN) and os.path.isfile(os.path.join(MODEL, "model.safetensors"))),
    reason=f"needs SPARSEGATE_BIN and SPARSEGATE_MODEL (got {BIN!r}, {MODEL!r})")


def score(tmp_path, lines, *extra):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(line + "\n" for line in lines))
    out = tmp_path / "out.jsonl"
    started = time.monotonic()
    done = subprocess.run([BIN, "score", "--model", MODEL, "--input", str(source), "--output", str(out), *extra],
                          capture_output=True, text=True, timeout=120)
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return done, rows, time.monotonic() - started


def test_a_directory_as_input_is_an_error_not_zero_rows(tmp_path):
    done = subprocess.run([BIN, "score", "--model", MODEL, "--input", str(tmp_path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2, done.stderr
    assert f"{tmp_path}: a directory, not a JSONL file" in done.stderr


def test_an_overlong_line_is_refused_fast_with_its_number_and_the_rest_scored(tmp_path):
    huge = json.dumps({"prompt": "x" * (9 << 20)})  # over the 8 MiB a row may have
    done, rows, seconds = score(tmp_path, ['{"prompt": "Q: 1 + 1 = ?"}', huge, '{"prompt": "Q: 2 + 2 = ?"}'])
    assert done.returncode == 1, done.stderr
    assert len(rows) == 3
    assert rows[1] == {"line": 2, "error": f"the line has {len(huge)} bytes, over the limit of {8 << 20} per row; "
                                          "it was not parsed"}
    assert "features" in rows[0] and "features" in rows[2]
    assert seconds < 30, seconds  # it took 54 s and 5.6 GB when the line was parsed


def test_blank_lines_are_counted_not_silently_dropped(tmp_path):
    done, rows, _ = score(tmp_path, ['{"prompt": "Q: 1 + 1 = ?"}', "", "   ", '{"prompt": "Q: 2 + 2 = ?"}'])
    assert done.returncode == 0, done.stderr
    assert len(rows) == 2
    assert "2 rows scored, 0 failed, 2 blank lines skipped" in done.stderr


@pytest.mark.parametrize("ids,bad", [([1, 4294967301], 4294967301), ([2 ** 63], 2 ** 63), ([-(2 ** 40)], -(2 ** 40))])
def test_token_ids_past_int32_are_refused_not_wrapped(tmp_path, ids, bad):
    done, rows, _ = score(tmp_path, [json.dumps({"prompt": ids})])
    assert done.returncode == 1, done.stderr
    assert rows[0]["line"] == 1
    assert f"token id {bad} at position" in rows[0]["error"]


def test_a_control_field_missing_from_rows_is_warned_about_and_a_misspelt_one_refused(tmp_path):
    problems = arithmetic.generate(12, 3, max_digits=3)
    source = tmp_path / "in.jsonl"
    with open(source, "w") as f:
        for i, row in enumerate(problems):
            row = {"id": row["id"], "prompt": row["prompt"], "solution": row["solution"], "op": row["id"].split("-")[0]}
            if i in (4, 9):
                del row["op"]
            f.write(json.dumps(row) + "\n")
    done = subprocess.run([BIN, "filter", "--input", str(source), "--output-dir", str(tmp_path / "out"), "--control", "op", "--control-inputs"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{source}: control field 'op' is missing or null on 2 of 12 rows (first on line 5)" in done.stderr
    done = subprocess.run([BIN, "filter", "--input", str(source), "--output-dir", str(tmp_path / "out2"), "--control", "opp", "--control-inputs"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert f"{source}: control field 'opp' is on no row" in done.stderr
