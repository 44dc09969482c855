"""`sparsegate filter` end to end on the embedded model: every row lands exactly once, bad rows are
rejected with their line numbers, a killed run resumes without losing or repeating a row, shards
split the work, outcomes calibrate the predictor, and a real `sparsegate serve` on loopback gives
the same decisions as the in-process model.

Environment (set by CTest): SPARSEGATE_BIN, the built CLI; SPARSEGATE_MODEL, the embedded model.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

BIN = os.environ.get("SPARSEGATE_BIN", "")
MODEL = os.environ.get("SPARSEGATE_MODEL", "")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts", "embedded_model"))
sys.path.insert(0, os.path.join(HERE, "..", "server"))
import arithmetic  # noqa: E402
from loopback_server import LoopbackServer  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (os.path.isfile(BIN) and os.path.isfile(os.path.join(MODEL, "model.safetensors"))),
    reason=f"needs SPARSEGATE_BIN and SPARSEGATE_MODEL (got {BIN!r}, {MODEL!r})")

OUTPUTS = ("kept", "guided", "dropped")
# Bad rows, placed at fixed lines among good ones, with what the reject must say.
BAD_ROWS = {
    3: ('{"id": "broken", "prompt": ', "invalid JSON"),
    7: ('{"id": "no-prompt", "solution": "x"}', "missing field 'prompt'"),
    11: ('{"id": "number-prompt", "prompt": 42}', "field 'prompt' is not a non-empty string"),
    15: ('["an", "array"]', "row is not a JSON object"),
    19: ('{"prompt": "Q: 1 + 1 = ?"}', "missing field 'id'"),
    23: ('{"id": "add-9-0", "prompt": "Q: 2 + 2 = ?"}', "duplicate id 'add-9-0' (first on line 1)"),
    # These two aborted (a double overflow) and crashed (stack overflow) the whole job.
    27: ('{"id": "overflow", "prompt": "Q: 1 + 2 = ?", "weight": 1e400}', "number overflow"),
    31: ('{"id": "deep", "prompt": "Q: 1 + 3 = ?", "x": ' + "[" * 100000 + "]" * 100000 + "}",
         "nested deeper than 512 levels"),
}


def expected_rejects():
    # write_dataset inserted a blank line as line 10: bad rows from line 10 on moved down by one.
    return {(line if line < 10 else line + 1): why for line, (_, why) in BAD_ROWS.items()}


def make_dataset(path, count=120, seed=9):
    """Mixed-difficulty problems with the bad rows at their lines; returns the good ids."""
    rows = iter(arithmetic.generate(count, seed, max_digits=6))
    ids, lines = [], []
    while len(ids) < count:
        if len(lines) + 1 in BAD_ROWS:
            lines.append(BAD_ROWS[len(lines) + 1][0])
            continue
        row = next(rows)
        ids.append(row["id"])
        lines.append(json.dumps(row))
    lines.insert(9, "")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return ids


def run_filter(dataset, out, *extra, check_rc=(0, 1), in_process=True):
    cmd = [BIN, "filter", "-i", str(dataset), "-o", str(out), *extra]
    if "--progress" not in extra:
        cmd += ["--progress", "never"]
    if in_process:
        cmd += ["--model", MODEL]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert p.returncode in check_rc, (p.returncode, p.stderr)
    return p


def read_outputs(out, suffix=""):
    rows = {}
    for stem in OUTPUTS:
        with open(os.path.join(out, f"{stem}{suffix}.jsonl")) as f:
            rows[stem] = [json.loads(line) for line in f]
    return rows


def all_ids(rows):
    return [r["id"] for stem in OUTPUTS for r in rows[stem]]


def test_every_row_lands_once_and_bad_rows_are_rejected_with_their_line(tmp_path):
    dataset = tmp_path / "problems.jsonl"
    ids = make_dataset(dataset)
    p = run_filter(dataset, tmp_path / "out", check_rc=(1,))  # 1: rows were rejected
    rows = read_outputs(tmp_path / "out")
    assert sorted(all_ids(rows)) == sorted(ids)
    for stem, decisions in (("kept", {"keep"}), ("guided", {"guide"}), ("dropped", {"drop", "defer"})):
        for r in rows[stem]:
            sg = r["sparsegate"]
            assert sg["decision"] in decisions
            assert sg["token_count"] > 0 and len(sg["features"]) == 28
            assert sg["predicted_pass_rate"] is None or 0 <= sg["predicted_pass_rate"] <= 1
    with open(tmp_path / "out" / "rejects.jsonl") as f:
        rejects = {r["line"]: r for r in map(json.loads, f)}
    assert set(rejects) == set(expected_rejects())
    for line, why in expected_rejects().items():
        assert why in rejects[line]["error"], rejects[line]
        assert f"problems.jsonl:{line}: " in p.stderr
    report = json.load(open(tmp_path / "out" / "report.json"))
    assert report["rows"]["total"] == len(ids) and report["rows"]["rejected"] == len(BAD_ROWS)
    assert sum(d["rows"] for d in report["decisions"]) == len(ids)
    html = open(tmp_path / "out" / "report.html").read()
    assert html.count("<svg") >= 2
    assert re.search(r"keep\s+\d+", p.stdout), p.stdout  # the summary table


def test_guided_rows_carry_the_hinted_prompt(tmp_path):
    dataset = tmp_path / "problems.jsonl"
    make_dataset(dataset)
    # Every prediction under 0.99 starts on the ladder, so rows are guided whatever the model says.
    run_filter(dataset, tmp_path / "out", "--start-rung-below", "0.99,0.5,0.3", "--drop-hopeless-below", "0",
               "--hint-template", "\nA: {hint}")
    rows = read_outputs(tmp_path / "out")
    assert rows["guided"], "no guided rows"
    for r in rows["guided"]:
        sg = r["sparsegate"]
        # The hint block is the template with the reference's prefix in place of {hint}.
        assert r["prompt"] == sg["original_prompt"] + sg["hint"]
        assert sg["hint"].startswith("\nA: ") and len(sg["hint"]) > 4
        assert r["solution"].startswith(sg["hint"][4:].rstrip())
        assert sg["hint_level"] >= 1


def wait_for_progress(out, process, timeout=300):
    path = os.path.join(out, ".filter-state", "progress.json")
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(path) as f:
                if json.load(f)["rows_done"] > 0:
                    return
        except (OSError, ValueError):
            pass
        assert process.poll() is None, "the run ended before it could be killed"
        time.sleep(0.01)
    raise AssertionError("no progress recorded")


def test_a_killed_run_resumes_without_losing_or_repeating_a_row(tmp_path):
    dataset = tmp_path / "problems.jsonl"
    ids = make_dataset(dataset, count=1000)
    out = tmp_path / "out"
    cmd = [BIN, "filter", "--model", MODEL, "-i", str(dataset), "-o", str(out), "--progress", "never",
           "--batch-rows", "8"]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_progress(out, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = {stem: open(out / f"{stem}.jsonl").read() for stem in OUTPUTS}
    progress = json.load(open(out / ".filter-state" / "progress.json"))
    assert not progress["done"], "the run finished before the kill; the test proves nothing"

    p = run_filter(dataset, out, "--batch-rows", "8", check_rc=(1,))
    assert "continued an interrupted run" in p.stderr
    rows = read_outputs(out)
    assert sorted(all_ids(rows)) == sorted(ids)  # none lost, none twice
    for stem in OUTPUTS:
        # What the killed run had checkpointed is kept as it was (a torn last line would be cut off).
        after = open(out / f"{stem}.jsonl").read()
        kept_part = before[stem][:progress["sizes"][stem]]
        assert after.startswith(kept_part)
    with open(out / "rejects.jsonl") as f:
        assert sorted(r["line"] for r in map(json.loads, f)) == sorted(expected_rejects())

    # A finished run asked again changes nothing.
    again = run_filter(dataset, out, "--batch-rows", "8", check_rc=(1,))
    assert read_outputs(out) == rows, again.stderr


def test_changed_settings_refuse_to_resume(tmp_path):
    dataset = tmp_path / "problems.jsonl"
    make_dataset(dataset, count=40)
    run_filter(dataset, tmp_path / "out")
    p = run_filter(dataset, tmp_path / "out", "--drop-below", "0.1", check_rc=(2,))
    assert "'drop_below' differs" in p.stderr and "--restart" in p.stderr
    run_filter(dataset, tmp_path / "out", "--drop-below", "0.1", "--restart")


def test_shards_split_the_rows(tmp_path):
    dataset = tmp_path / "problems.jsonl"
    ids = make_dataset(dataset)
    out = tmp_path / "out"
    for i in range(3):
        run_filter(dataset, out, "--shard", f"{i}/3")
    seen = []
    for i in range(3):
        rows = read_outputs(out, f"-{i:05d}-of-00003")
        shard_ids = all_ids(rows)
        assert shard_ids, f"shard {i} is empty"
        for stem in OUTPUTS:
            for r in rows[stem]:
                assert (r["sparsegate"]["line"] - 1) % 3 == i
        seen += shard_ids
        assert os.path.exists(out / f"report-{i:05d}-of-00003.html")
    assert sorted(seen) == sorted(ids)


def write_outcomes(path, dataset):
    """Outcomes a user could have measured: here, one- and two-digit problems pass, longer ones fail."""
    with open(dataset) as f, open(path, "w") as out:
        for line in f:
            try:
                row = json.loads(line)
                assert isinstance(row, dict) and "digits" in row and "id" in row
            except (ValueError, AssertionError, RecursionError):  # the planted bad rows
                continue
            successes = 7 if row["digits"] <= 2 else 0
            out.write(json.dumps({"id": row["id"], "successes": successes, "trials": 8}) + "\n")


def test_outcomes_calibrate_the_predictor_and_fill_the_report(tmp_path):
    dataset = tmp_path / "problems.jsonl"
    make_dataset(dataset, count=300, seed=11)
    outcomes = tmp_path / "outcomes.jsonl"
    write_outcomes(outcomes, dataset)
    run_filter(dataset, tmp_path / "out", "--outcomes", str(outcomes), "--min-training-groups", "32")
    rows = read_outputs(tmp_path / "out")
    sources = {r["sparsegate"]["prediction_source"] for stem in OUTPUTS for r in rows[stem]}
    assert "supervised" in sources, sources
    with_outcome = [r for stem in OUTPUTS for r in rows[stem] if "outcome" in r["sparsegate"]]
    assert len(with_outcome) > 250
    assert any(r["sparsegate"]["outcome"]["holdout"] for r in with_outcome)
    report = json.load(open(tmp_path / "out" / "report.json"))
    held_out = report["outcome"]["held_out"]
    assert held_out["groups"] > 20 and held_out["calibration"]
    assert held_out["zero_pass_auroc"] is not None
    assert "calibration" in open(tmp_path / "out" / "report.html").read().lower()


def test_control_fields_give_a_baseline_and_optionally_predictor_inputs(tmp_path):
    dataset = tmp_path / "problems.jsonl"
    make_dataset(dataset, count=300, seed=11)
    outcomes = tmp_path / "outcomes.jsonl"
    write_outcomes(outcomes, dataset)
    common = ("--outcomes", str(outcomes), "--min-training-groups", "32", "--control", "op,digits")
    p = run_filter(dataset, tmp_path / "baseline", *common)
    held_out = json.load(open(tmp_path / "baseline" / "report.json"))["outcome"]["held_out"]
    # The outcomes follow the digit count exactly, so the controls alone rank them perfectly.
    assert held_out["controls_baseline_auroc"] == 1.0
    assert held_out["intervals"]["auroc_minus_controls"]["value"] <= 0
    assert "controls alone: AUROC 1.000" in p.stdout
    assert "held-out kept rows never pass" in p.stdout
    baseline_rows = read_outputs(tmp_path / "baseline")
    assert not any(k.startswith("control/") for r in baseline_rows["kept"] for k in r["sparsegate"]["features"])

    run_filter(dataset, tmp_path / "inputs", *common, "--control-inputs")
    rows = read_outputs(tmp_path / "inputs")
    for r in (r for stem in OUTPUTS for r in rows[stem]):
        features = r["sparsegate"]["features"]
        assert features["control/digits"] == r.get("digits", 0)  # a row without the field: zeros
        ops = {k: v for k, v in features.items() if k.startswith("control/op=")}
        assert ops == {f"control/op={op}": float(op == r.get("op")) for op in ("add", "expr", "mul", "sub")}
    # A resume with other control inputs is refused, naming the setting.
    p = run_filter(dataset, tmp_path / "inputs", *common, check_rc=(2,))
    assert "control_inputs" in p.stderr or "features" in p.stderr


def test_a_bad_outcomes_file_stops_the_job_naming_the_line(tmp_path):
    dataset = tmp_path / "problems.jsonl"
    make_dataset(dataset, count=20)
    outcomes = tmp_path / "outcomes.jsonl"
    outcomes.write_text('{"id": "a", "successes": 1, "trials": 8}\n{"id": "b", "successes": 9, "trials": 8}\n')
    p = run_filter(dataset, tmp_path / "out", "--outcomes", str(outcomes), check_rc=(2,))
    assert "outcomes.jsonl:2: need 0 <= successes <= trials" in p.stderr


def test_a_remote_service_decides_as_the_in_process_model(tmp_path):
    dataset = tmp_path / "problems.jsonl"
    make_dataset(dataset, count=60)
    run_filter(dataset, tmp_path / "local")
    servers = [LoopbackServer(BIN, MODEL), LoopbackServer(BIN, MODEL)]
    try:
        targets = ",".join(s.target for s in servers)
        p = run_filter(dataset, tmp_path / "remote", "--server", targets, check_rc=(1,), in_process=False)
    finally:
        for s in servers:
            s.stop()
    local, remote = read_outputs(tmp_path / "local"), read_outputs(tmp_path / "remote")
    by_id = {r["id"]: r["sparsegate"] for stem in OUTPUTS for r in local[stem]}
    assert sorted(by_id) == sorted(r["id"] for stem in OUTPUTS for r in remote[stem])
    for stem in OUTPUTS:
        for r in remote[stem]:
            a, b = by_id[r["id"]], r["sparsegate"]
            assert a["token_count"] == b["token_count"]
            for name, value in a["features"].items():
                assert b["features"][name] == pytest.approx(value, rel=1e-4, abs=1e-5), name
    assert "rejected" in p.stdout


def test_a_remote_service_behind_mutual_tls_and_a_token(tmp_path):
    pki = tmp_path / "pki"
    subprocess.run(["bash", os.path.join(HERE, "..", "server", "make_test_certs.sh"), str(pki)], check=True)
    token = "filter-job-token-" + "5" * 16
    (tmp_path / "tokens").write_text(f"{token} score\n")
    (tmp_path / "token").write_text(token + "\n")
    dataset = tmp_path / "problems.jsonl"
    make_dataset(dataset, count=30)
    server = LoopbackServer(BIN, MODEL, extra=["--tls-cert", str(pki / "server.pem"), "--tls-key", str(pki / "server.key"),
                                               "--tls-client-ca", str(pki / "ca.pem"),
                                               "--auth-tokens", str(tmp_path / "tokens")])
    client_tls = ["--tls-ca", str(pki / "ca.pem"), "--tls-cert", str(pki / "client.pem"),
                  "--tls-key", str(pki / "client.key")]
    try:
        # localhost: the name in the server's certificate.
        target = f"localhost:{server.port}"
        p = run_filter(dataset, tmp_path / "out", "--server", target, *client_tls,
                       "--auth-token-file", str(tmp_path / "token"), check_rc=(1,), in_process=False)
        no_token = run_filter(dataset, tmp_path / "no_token", "--server", target, *client_tls,
                              check_rc=(2,), in_process=False)
    finally:
        server.stop()
    rows = read_outputs(tmp_path / "out")
    assert len(all_ids(rows)) == 30 and "rejected" in p.stdout
    assert "refused this client" in no_token.stderr and "bearer token" in no_token.stderr, no_token.stderr


def test_configurable_fields_and_line_number_ids(tmp_path):
    dataset = tmp_path / "custom.jsonl"
    rows = arithmetic.generate(30, 13, max_digits=4)
    with open(dataset, "w") as f:
        for r in rows:
            f.write(json.dumps({"question": r["prompt"], "worked": r["solution"]}) + "\n")
    run_filter(dataset, tmp_path / "out", "--id-field", "", "--prompt-field", "question", "--reference-field", "worked",
               "--start-rung-below", "0.99,0.5,0.3", "--drop-hopeless-below", "0")
    out = read_outputs(tmp_path / "out")
    assert sorted(r["sparsegate"]["id"] for stem in OUTPUTS for r in out[stem]) == \
        sorted(f"line-{i}" for i in range(1, 31))
    assert out["guided"] and all(r["question"].startswith(r["sparsegate"]["original_prompt"]) for r in out["guided"])


def test_progress_bar_shows_rate_and_eta(tmp_path):
    dataset = tmp_path / "problems.jsonl"
    make_dataset(dataset, count=40)
    p = run_filter(dataset, tmp_path / "out", "--progress", "always", "--batch-rows", "8")
    assert re.search(r"\d+/\d+ rows\s+[\d.]+ rows/s\s+ETA \d+:\d\d", p.stderr), p.stderr
    assert "100%" in p.stderr


def test_default_model_is_found_beside_the_binary_not_at_a_compiled_in_path(tmp_path):
    dataset = tmp_path / "data.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in arithmetic.generate(6, 3, max_digits=3)))
    # From the build folder the binary walks up to the checkout's models/arith-3m.
    p = subprocess.run([BIN, "filter", "-i", str(dataset), "-o", str(tmp_path / "out"), "--progress", "never"],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "arith-3m" in p.stderr
    # A copy of the binary installed elsewhere, without the model beside it, says where it looked.
    alone = tmp_path / "bin" / "sparsegate"
    alone.parent.mkdir()
    alone.write_bytes(open(BIN, "rb").read())
    alone.chmod(0o755)
    p = subprocess.run([str(alone), "filter", "-i", str(dataset), "-o", str(tmp_path / "out2"), "--progress",
                        "never"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 2
    assert "embedded model arith-3m is not beside this binary" in p.stderr
    assert str(tmp_path / "share" / "sparsegate" / "models" / "arith-3m") in p.stderr
    # Installed layout: <prefix>/bin/sparsegate finds <prefix>/share/sparsegate/models/arith-3m.
    installed = tmp_path / "share" / "sparsegate" / "models" / "arith-3m"
    installed.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        (installed / name).write_bytes(open(os.path.join(MODEL, name), "rb").read())
    p = subprocess.run([str(alone), "filter", "-i", str(dataset), "-o", str(tmp_path / "out3"), "--progress",
                        "never"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert str(installed) in p.stderr


def test_a_prompt_over_the_token_limit_is_rejected_unless_truncation_is_asked_for(tmp_path):
    # It used to be cut to its last 1,024 tokens and kept, with nothing in its row or the report.
    dataset = tmp_path / "long.jsonl"
    rows = arithmetic.generate(20, 17, max_digits=3)
    long_prompt = "Q: " + "1 + " * 800 + "1 = ?"
    with open(dataset, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
        f.write(json.dumps({"id": "long", "prompt": long_prompt, "solution": "801"}) + "\n")

    p = run_filter(dataset, tmp_path / "reject", check_rc=(1,))
    with open(tmp_path / "reject" / "rejects.jsonl") as f:
        rejects = [json.loads(line) for line in f]
    assert [r["line"] for r in rejects] == [len(rows) + 1]
    match = re.search(r"prompt has (\d+) tokens, over the limit of 1024", rejects[0]["error"])
    assert match, rejects[0]
    original = int(match.group(1))
    assert "long.jsonl:21: " in p.stderr
    assert sorted(all_ids(read_outputs(tmp_path / "reject"))) == sorted(r["id"] for r in rows)

    run_filter(dataset, tmp_path / "left", "--truncation", "left")
    out = read_outputs(tmp_path / "left")
    by_id = {r["id"]: r["sparsegate"] for stem in OUTPUTS for r in out[stem]}
    assert by_id["long"]["truncated"] is True
    assert by_id["long"]["token_count"] == 1024 and by_id["long"]["original_token_count"] == original
    assert not any(sg["truncated"] for i, sg in by_id.items() if i != "long")
    report = json.load(open(tmp_path / "left" / "report.json"))
    assert report["rows"]["truncated"] == 1 and report["rows"]["rejected"] == 0
    assert report["context"]["settings"]["truncation"] == "left"
    assert "scored on their last tokens" in open(tmp_path / "left" / "report.html").read()


def test_an_output_directory_it_cannot_write_is_named_as_such(tmp_path):
    """Not "another filter run is using this output directory": the reason, before any row is read."""
    import shutil
    import tempfile
    as_other_user = []
    if os.geteuid() == 0:  # root writes anywhere: run the job as nobody
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv")
        as_other_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    work = tempfile.mkdtemp(dir="/tmp")  # traversable by nobody, unlike pytest's tmp_path
    try:
        os.chmod(work, 0o755)
        dataset = os.path.join(work, "problems.jsonl")
        make_dataset(dataset, count=5)
        out = os.path.join(work, "out")
        os.mkdir(out, 0o555)
        p = subprocess.run([*as_other_user, BIN, "filter", "-i", dataset, "-o", out, "--model", MODEL,
                            "--progress", "never"], capture_output=True, text=True, timeout=120)
        assert p.returncode == 2, (p.returncode, p.stderr)
        assert f"{out}: the output directory is not writable: Permission denied" in p.stderr, p.stderr
        assert "another filter run" not in p.stderr
    finally:
        os.chmod(os.path.join(work, "out"), 0o755)
        shutil.rmtree(work)


def test_killed_at_random_moments_many_times_every_line_lands_exactly_once(tmp_path):
    """SIGKILL at random moments, again and again (a fixed seed: the same moments every run), over
    thousands of rows with bad rows planted among them; then the run finishes. Every input line is
    in exactly one of kept/guided/dropped/rejects, once."""
    import random
    rng = random.Random(20261203)
    rows = list(arithmetic.generate(2000, 5, max_digits=6))
    lines, bad_lines = [], set()
    for i, row in enumerate(rows):
        if i % 97 == 13:  # planted bad rows: broken JSON, a missing prompt, a duplicate id
            lines.append(rng.choice(['{"id": "broken-%d", "prompt": ' % i, '{"id": "np-%d"}' % i,
                                     json.dumps({"id": rows[0]["id"], "prompt": "Q: 1 + 1 = ?"})]))
            bad_lines.add(len(lines))
        lines.append(json.dumps(row))
    dataset = tmp_path / "problems.jsonl"
    dataset.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    cmd = [BIN, "filter", "--model", MODEL, "-i", str(dataset), "-o", str(out), "--progress", "never",
           "--batch-rows", "16"]
    progress_path = out / ".filter-state" / "progress.json"

    def rows_done():
        try:
            return json.loads(progress_path.read_text())["rows_done"]
        except (OSError, ValueError, KeyError):
            return 0

    kills, kills_mid_work = 0, 0
    for attempt in range(24):
        done_before = rows_done()
        process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if attempt % 3 == 0:  # anywhere, start-up included
            delay = rng.uniform(0.0, 1.5)
        else:  # once this run has checkpointed rows of its own, a little later
            deadline = time.time() + 60
            while rows_done() == done_before and process.poll() is None and time.time() < deadline:
                time.sleep(0.005)
            delay = rng.uniform(0.0, 0.4)
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
            kills_mid_work += rows_done() > done_before  # it had checkpointed rows: killed while working
            continue
        assert process.returncode in (0, 1)
        break
    run_filter(dataset, out, "--batch-rows", "16", check_rc=(1,))  # finishes whatever is left
    assert kills_mid_work >= 10, f"only {kills_mid_work} of {kills} kills landed mid-work; the test proves little"
    landed = {}
    for stem in OUTPUTS:
        for r in read_outputs(out)[stem]:
            landed.setdefault(r["id"], []).append(stem)
    with open(out / "rejects.jsonl") as f:
        rejected = [r["line"] for r in map(json.loads, f)]
    assert sorted(rejected) == sorted(bad_lines), "each bad line rejected exactly once"
    assert sorted(landed) == sorted(r["id"] for r in rows) and all(len(v) == 1 for v in landed.values())
    print(f"{kills} kills ({kills_mid_work} mid-work) over {len(lines)} lines")
