"""End to end: the real `sparsegate serve` on the tiny checkpoint, a Gate over a batch, rewards fed
back, decisions changing as they should, and fail-open once the server is gone.

Needs SPARSEGATE_BIN (the sparsegate binary) and SPARSEGATE_TINY_MODEL (the checkpoint the CTest
fixture `tiny_models` writes); CTest sets both. Without them the test is skipped, saying why.
"""
import os
import sys
import time

import pytest

import sparsegate

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
from loopback_server import LoopbackServer  # noqa: E402

BIN = os.environ.get("SPARSEGATE_BIN", "")
MODEL = os.environ.get("SPARSEGATE_TINY_MODEL", "")

pytestmark = pytest.mark.skipif(
    not (os.path.isfile(BIN) and os.path.isdir(MODEL)),
    reason=f"needs SPARSEGATE_BIN and SPARSEGATE_TINY_MODEL (got {BIN!r}, {MODEL!r})")

SOLUTION = ("First, write the equation: 4x - 7 = 21.\nAdd 7 to both sides: 4x = 28.\n"
            "Divide both sides by 4: x = 7.\nCheck: 4 * 7 - 7 = 21.\nThe answer is 7.")


@pytest.fixture
def server():
    s = LoopbackServer(BIN, MODEL, timeout=60)
    yield s
    s.stop()


def batch():
    prompts = []
    for i in range(8):
        text = f"Solve for x: {i + 3}x - 7 = {2 * i + 14}. Show your reasoning." + " Be careful." * i
        prompts.append({"id": f"q{i}", "text": text, "reference": SOLUTION if i % 2 == 0 else None})
    return prompts


def test_client_scores_text_and_ids(server):
    client = sparsegate.DifficultyClient.create(target=server.target, layers=[-1, 1],
                                                poolings=["last_token", "mean"], deadline=10.0)
    assert client.wait_for_service(30)
    features = client.score(["What is 17 * 23?", [10, 20, 30, 40]])
    assert all(len(f.metrics) == len(client.schema) == 4 * 14 for f in features)
    assert features[1].token_count == 4
    assert client.model_digest.startswith("sha256:")
    assert client.stats()["prompts_scored"] == 2 and client.stats()["prompts_failed_open"] == 0


def test_gate_learns_from_rewards_then_fails_open(server, tmp_path):
    gate = sparsegate.Gate.create(target=server.target, deadline=5.0, max_attempts=2, hint_ladder=[0.25, 0.5, 0.75],
                                  tokenizer_path=MODEL)
    gate.wait_for_service(30)
    prompts = batch()
    with_reference = {p["id"] for p in prompts if p["reference"]}

    levels = {pid: [] for pid in with_reference}
    for step in range(4):
        decisions = gate.decide(prompts)
        assert [d.prompt_id for d in decisions] == [p["id"] for p in prompts]
        for d in decisions:
            assert not d.fail_open and d.source == "prior" and 0 < d.predicted_pass_rate < 1
            if d.prompt_id in with_reference:
                levels[d.prompt_id].append(d.hint_level)
                if d.kind == "guide":
                    assert d.prompt_text.endswith(d.hint_text) and "First, write the equation" in d.hint_text
            else:
                assert d.kind in ("keep", "drop")
            if d.rolled_out:
                # All-zero for prompts with a reference; some success for the others.
                gate.observe(d.prompt_id, [0.0] * 8 if d.prompt_id in with_reference else [1.0, 0.0] * 4)
    for pid, seen in levels.items():
        # The ladder rises one rung per all-zero group, from wherever the prediction started it.
        assert seen[-1] == 3 and all(b == min(a + 1, 3) for a, b in zip(seen, seen[1:])), (pid, seen)

    # Prompts given as token ids get the hint back as token ids.
    ids_prompt = {"id": "by-ids", "ids": [15, 16, 17, 18], "reference": SOLUTION}
    if gate.decide([ids_prompt])[0].kind == "keep":
        gate.observe("by-ids", [0.0] * 8)
    d = gate.decide([ids_prompt])[0]
    assert d.kind == "guide" and d.prompt_ids[:4] == [15, 16, 17, 18] and len(d.prompt_ids) > 4

    stats = gate.stats()
    assert stats["fail_open_decisions"] == 0 and stats["model_digest"].startswith("sha256:")
    assert stats["client"]["prompts_scored"] >= 4 * len(prompts) + 1
    gate.save(tmp_path / "gate.json")

    server.stop()
    start = time.monotonic()
    decisions = gate.decide(prompts)
    assert time.monotonic() - start < 15  # bounded by the deadline: training never stalls
    assert all(d.kind == "keep" and d.fail_open and d.predicted_pass_rate is None for d in decisions)
    stats = gate.stats()
    assert stats["fail_open_decisions"] == len(prompts)
    assert stats["client"]["prompts_failed_open"] == len(prompts) and stats["client"]["failed_calls"] >= 1


def test_gate_follows_a_reloaded_service_and_records_the_digest_per_decision(tmp_path):
    other = os.path.join(os.path.dirname(MODEL), "tiny_qwen3_seed1")
    token = "reload-" + "7" * 24  # Reload needs a token with the reload permission
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{token} score reload\n")
    s = LoopbackServer(BIN, MODEL, timeout=60, extra=["--allow-reload", "--auth-tokens", str(tokens)])
    try:
        gate = sparsegate.Gate.create(target=s.target, deadline=10.0, auth_token=token)
        assert gate.wait_for_service(30)
        first = gate.decide(batch())
        digest = first[0].model_digest
        assert digest.startswith("sha256:") and all(d.model_digest == digest for d in first)
        assert first[0].to_dict()["model_digest"] == digest
        switched = gate.reload_service(other)
        assert len(switched) == 1 and switched[0]["replica"] == s.target
        assert switched[0]["previous_digest"] == digest and switched[0]["model_digest"] != digest
        after = gate.decide(batch())
        assert all(d.model_digest == switched[0]["model_digest"] for d in after)
        with pytest.raises(RuntimeError, match="bad_header"):
            gate.reload_service(os.path.join(os.path.dirname(MODEL), "bad_header"))
        assert gate.decide(batch())[0].model_digest == switched[0]["model_digest"]  # still the good one
    finally:
        s.stop()


def test_gate_selects_the_candidates_expected_nearest_the_target(server):
    gate = sparsegate.Gate.create(target=server.target, deadline=10.0)
    assert gate.wait_for_service(30)
    every = gate.decide(batch())
    chosen = gate.select(batch(), 3, target=0.5)
    assert len(chosen) == 3 and all(d.rolled_out for d in chosen)
    order = [d.prompt_id for d in every]
    assert [d.prompt_id for d in chosen] == sorted((d.prompt_id for d in chosen), key=order.index)
    distance = {d.prompt_id: abs(d.expected_pass_rate - 0.5) for d in every if d.rolled_out}
    worst_chosen = max(distance[d.prompt_id] for d in chosen)
    assert all(distance[i] >= worst_chosen for i in distance if i not in {d.prompt_id for d in chosen})


def test_gate_selects_by_the_chance_of_signal_and_by_thompson_draws(server):
    gate = sparsegate.Gate.create(target=server.target, deadline=10.0, selection_seed=5)
    assert gate.wait_for_service(30)
    every = {d.prompt_id: d for d in gate.decide(batch())}
    for d in every.values():
        if d.rolled_out:  # the posterior's mean is the expected pass rate (prior weight 1)
            alpha, beta = d.pass_rate_posterior
            assert alpha > 0 and beta > 0 and alpha / (alpha + beta) == pytest.approx(d.expected_pass_rate, abs=1e-3)

    def signal(d, g=8):  # E[1 - p^g - (1 - p)^g] under Beta(alpha, beta), as selection.h defines it
        alpha, beta = d.pass_rate_posterior
        all_pass = all_fail = 1.0
        for i in range(g):
            all_pass *= (alpha + i) / (alpha + beta + i)
            all_fail *= (beta + i) / (alpha + beta + i)
        return 1 - all_pass - all_fail

    chosen = gate.select(batch(), 2, rule="signal", group_size=8)
    assert len(chosen) == 2
    ranked = sorted((d for d in every.values() if d.rolled_out), key=signal, reverse=True)
    assert min(signal(every[d.prompt_id]) for d in chosen) >= signal(ranked[2]) - 1e-12
    drawn = [[d.prompt_id for d in gate.select(batch(), 2, rule="thompson")] for _ in range(3)]
    assert all(len(ids) == 2 for ids in drawn)
    again = sparsegate.Gate.create(target=server.target, deadline=10.0, selection_seed=5)
    assert again.wait_for_service(30)
    again.decide(batch())  # the same history as the first gate's before its draws
    again.select(batch(), 2, rule="signal", group_size=8)
    assert [[d.prompt_id for d in again.select(batch(), 2, rule="thompson")] for _ in range(3)] == drawn
    # signal per token: after observing completion lengths, each decision carries its expected cost
    # and the rule ranks by the chance of signal divided by it.
    for i, d in enumerate(d for d in gate.decide(batch()) if d.rolled_out):
        gate.observe(d.prompt_id, [1.0, 0.0] * 4, completion_tokens=[10.0 * (i + 1)] * 8)
    costed = {d.prompt_id: d for d in gate.decide(batch())}
    assert all(d.expected_completion_tokens is not None for d in costed.values() if d.rolled_out)
    cheap = gate.select(batch(), 2, rule="signal_per_token", group_size=8)
    per_token = {i: signal(d) / d.expected_completion_tokens for i, d in costed.items() if d.rolled_out}
    best = sorted(per_token.values(), reverse=True)
    assert min(per_token[d.prompt_id] for d in cheap) >= best[2] - 1e-12
    # a group size per prompt: the chosen share count x group_size rollouts within the bounds
    varied = gate.select(batch(), 3, rule="signal", group_size=8, vary_group_size=True, min_group_size=2,
                         max_group_size=16)
    assert sum(d.recommended_group_size for d in varied) == 3 * 8
    assert all(2 <= d.recommended_group_size <= 16 for d in varied)
    assert all(d.recommended_group_size is None for d in gate.select(batch(), 3, rule="signal"))
    with pytest.raises(ValueError, match="min_group_size"):
        gate.select(batch(), 3, vary_group_size=True, min_group_size=9)
    with pytest.raises(ValueError, match="1 rewards but 2 completion lengths"):
        gate.observe(cheap[0].prompt_id, [1.0], completion_tokens=[3.0, 4.0])
    with pytest.raises(ValueError, match="rule is 'best'"):
        gate.select(batch(), 2, rule="best")
    with pytest.raises(ValueError, match="group_size is 0"):
        gate.select(batch(), 2, rule="signal", group_size=0)


def test_gate_over_mutual_tls_with_a_token(tmp_path):
    import subprocess
    pki = tmp_path / "pki"
    subprocess.run(["bash", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server",
                                         "make_test_certs.sh"), str(pki)], check=True)
    token = "python-gate-token-" + "3" * 16
    (tmp_path / "tokens").write_text(f"{token} score\n")
    s = LoopbackServer(BIN, MODEL, timeout=60,
                       extra=["--tls-cert", str(pki / "server.pem"), "--tls-key", str(pki / "server.key"),
                              "--tls-client-ca", str(pki / "ca.pem"), "--auth-tokens", str(tmp_path / "tokens")])
    try:
        tls = dict(tls_ca_file=str(pki / "ca.pem"), tls_cert_file=str(pki / "client.pem"),
                   tls_key_file=str(pki / "client.key"), tls_server_name="localhost", deadline=5.0, max_attempts=1)
        gate = sparsegate.Gate.create(target=s.target, auth_token=token, **tls)
        assert gate.wait_for_service(30)
        decisions = gate.decide(batch())
        assert not any(d.fail_open for d in decisions)
        with pytest.raises(Exception, match="refused this client"):
            sparsegate.Gate.create(target=s.target, auth_token="x" * 20, **tls).wait_for_service(5)
        with pytest.raises(Exception, match="no PEM"):
            sparsegate.DifficultyClient.create(target=s.target, tls_ca_file=str(pki / "client.key"))
    finally:
        s.stop()
