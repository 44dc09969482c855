"""Hint rungs chosen by prediction from Python: the plugin's hinted variants and decide(hinted_variants=),
and the Gate scoring the variants in the same call on the real `sparsegate serve` (SPARSEGATE_BIN and
SPARSEGATE_TINY_MODEL, set by CTest; the end-to-end test is skipped without them)."""
import os
import sys

import pytest

import sparsegate

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
from loopback_server import LoopbackServer  # noqa: E402

BIN = os.environ.get("SPARSEGATE_BIN", "")
MODEL = os.environ.get("SPARSEGATE_TINY_MODEL", "")
SOLUTION = ("First, write the equation: 4x - 7 = 21.\nAdd 7 to both sides: 4x = 28.\n"
            "Divide both sides by 4: x = 7.\nCheck: 4 * 7 - 7 = 21.\nThe answer is 7.")
SCHEMA = sparsegate.FeatureSchema.for_feature_sets(["layer4/last_token"])


def band_choice(rates, low=0.2, high=0.8):
    """The smallest rung inside [low, high], else the nearest to it (the smaller on a tie)."""
    distance = [low - p if p < low else max(0.0, p - high) for p in rates]
    return min(range(len(rates)), key=lambda r: (distance[r], r))


def features(seed, tokens):
    metrics = [0.3 + 0.01 * ((seed * 7 + j * 3) % 11) for j in range(len(SCHEMA))]
    return sparsegate.PromptFeatures(metrics=metrics, token_count=tokens)


def test_plugin_hinted_variants_and_decide_with_them():
    plugin = sparsegate.TrainerPlugin.create(
        SCHEMA, sparsegate.PluginConfig(rungs_by_prediction=True, min_training_groups=4, holdout_modulus=0))
    assert plugin.config.rungs_by_prediction and (plugin.config.rung_band_low, plugin.config.rung_band_high) == (0.2, 0.8)
    prompt = {"id": "a", "text": "Solve 4x - 7 = 21.", "reference": SOLUTION}
    variants = plugin.hinted_variants(prompt)
    assert len(variants) == 3 and all(v["prompt_text"] == prompt["text"] + v["hint_text"] for v in variants)
    assert plugin.hinted_variants({"id": "b", "text": "no reference"}) == []
    with pytest.raises(ValueError, match="2 hinted variants; the ladder has 3 rungs"):
        plugin.decide([prompt], [features(0, 10)], hinted_variants=[[features(0, 12), features(0, 14)]])

    # Teach it that hints help: unhinted groups pass 1 in 8, the rung-k variants pass more.
    for step in range(6):
        batch = [dict(prompt, id=f"p{i}") for i in range(8)]
        scored = [features(i, 10) for i in range(8)]
        hinted = [[features(i, 10 + 8 * r) for r in (1, 2, 3)] for i in range(8)]
        for d in plugin.decide(batch, scored, hinted_variants=hinted):
            successes = 1 + 2 * d.hint_level if (step + int(d.prompt_id[1:])) % 3 else 2 * d.hint_level
            plugin.observe(d.prompt_id, [1.0] * successes + [0.0] * (8 - successes))
    decided = plugin.decide([dict(prompt, id="new")], [features(3, 10)],
                            hinted_variants=[[features(3, 10 + 8 * r) for r in (1, 2, 3)]])[0]
    assert decided.source == "supervised" and len(decided.rung_pass_rates) == 4
    assert decided.hint_level == band_choice(decided.rung_pass_rates), decided.reason
    assert decided.rung_pass_rates[3] > decided.rung_pass_rates[0]  # it learned that hints help
    stats = plugin.stats()
    assert stats["hint_variants_scored"] == 6 * 8 * 3 + 3
    assert stats["guided_groups"] > 0 and stats["guided_zero_pass_groups"] <= stats["guided_groups"]


@pytest.mark.skipif(not (os.path.isfile(BIN) and os.path.isdir(MODEL)),
                    reason=f"needs SPARSEGATE_BIN and SPARSEGATE_TINY_MODEL (got {BIN!r}, {MODEL!r})")
def test_gate_scores_the_hinted_variants_with_the_prompts_and_chooses_rungs_by_them():
    server = LoopbackServer(BIN, MODEL, timeout=60)
    try:
        gate = sparsegate.Gate.create(target=server.target, deadline=10.0, rungs_by_prediction=True,
                                      min_training_groups=8, holdout_modulus=0)
        gate.wait_for_service(30)
        prompts = [{"id": f"q{i}", "text": f"Solve for x: {i + 3}x - 7 = {2 * i + 14}." + " Be careful." * i,
                    "reference": SOLUTION if i % 2 == 0 else None} for i in range(8)]
        steps, by_prediction = 5, 0
        for step in range(steps):
            for d in gate.decide(prompts):
                assert not d.fail_open
                if d.rung_pass_rates:
                    by_prediction += 1
                    assert d.prompt_id in ("q0", "q2", "q4", "q6") and d.source == "supervised"
                    assert d.hint_level == band_choice(d.rung_pass_rates), d.reason
                if d.kind == "guide":
                    assert d.prompt_text.endswith(d.hint_text)
                if d.rolled_out:
                    successes = min(8, 1 + 3 * d.hint_level) if (step + int(d.prompt_id[1:])) % 2 else 0
                    gate.observe(d.prompt_id, [1.0] * successes + [0.0] * (8 - successes))
        stats = gate.stats()
        # Each call scored the 8 prompts and the 3 variants of each of the 4 with a reference.
        assert stats["hint_variants_scored"] == steps * 4 * 3
        assert stats["client"]["prompts_scored"] == steps * (8 + 4 * 3)
        assert stats["hint_variant_tokens"] > stats["hint_variants_scored"]
        assert by_prediction > 0  # the supervised model took over within the run
    finally:
        server.stop()
