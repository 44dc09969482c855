"""The policy's state machine and the checkpoint, driven through Python."""
import pytest

import sparsegate
from fakes import SCHEMA, synthetic_features

SOLUTION = ("Let x be the number.\nThen 3x + 5 = 20, so 3x = 15.\nDividing by 3 gives x = 5.\n"
            "Check: 3 * 5 + 5 = 20.\nThe answer is 5.")
PROMPT = {"id": "p1", "text": "A number times three plus five is twenty. What is it?", "reference": SOLUTION}


def make(**knobs):
    return sparsegate.TrainerPlugin.create(SCHEMA, sparsegate.PluginConfig(prior_hardest_pass_rate=0.2, **knobs))


def decide_one(plugin, prompt=PROMPT, features=True):
    f = synthetic_features(str(prompt["id"]), prompt["text"]) if features else None
    return plugin.decide([prompt], [f])[0]


def test_ladder_climbs_on_all_zero_rewards_then_quarantines_and_returns():
    plugin = make(quarantine_epochs=2)
    plugin.begin_epoch(0)
    seen = []
    for _ in range(4):
        d = decide_one(plugin)
        seen.append((d.kind, d.hint_level))
        plugin.observe("p1", [0.0] * 8)
    assert seen == [("keep", 0), ("guide", 1), ("guide", 2), ("guide", 3)]
    d = decide_one(plugin)
    assert d.kind == "drop" and "quarantined" in d.reason
    assert plugin.stats()["quarantined_prompts"] == 1
    for epoch in (1, 2):  # the rest of this epoch, then quarantine_epochs more
        plugin.begin_epoch(epoch)
        assert decide_one(plugin).kind == "drop"
    plugin.begin_epoch(3)
    d = decide_one(plugin)
    assert (d.kind, d.hint_level) == ("guide", 3)  # re-checked at the top rung


def test_guided_prompt_carries_the_hint():
    plugin = make()
    decide_one(plugin)
    plugin.observe("p1", [0.0] * 8)
    d = decide_one(plugin)
    assert d.kind == "guide" and d.hint_level == 1 and d.hint_fraction == pytest.approx(0.25)
    assert d.prompt_text == PROMPT["text"] + d.hint_text
    assert "Let x be the number." in d.hint_text and "The answer is 5." not in d.hint_text
    assert d.hint_boundary in ("line_end", "sentence_end", "word_boundary")  # never mid-word
    ghpo = make(hint_placement="ghpo")
    decide_one(ghpo)
    ghpo.observe("p1", [0.0] * 8)
    assert decide_one(ghpo).hint_text.startswith("\n The following text is the beginning part of the answer")


def test_ladder_holds_on_success_and_steps_down():
    plugin = make(step_down_after_successes=2)
    for _ in range(2):
        decide_one(plugin)
        plugin.observe("p1", [0.0] * 8)
    assert decide_one(plugin).hint_level == 2
    plugin.observe("p1", [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    assert decide_one(plugin).hint_level == 2  # one success holds the rung
    plugin.observe("p1", [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    assert decide_one(plugin).hint_level == 1  # two in a row step it down


def test_no_reference_means_keep_or_drop():
    plugin = make(no_reference_quarantine_after=2)
    prompt = {"id": "n1", "text": "Prove it."}
    kinds = []
    for _ in range(3):
        d = decide_one(plugin, prompt)
        kinds.append(d.kind)
        plugin.observe("n1", [0.0] * 4)
    assert kinds == ["keep", "keep", "drop"]


def test_fail_open_keep_and_last_known():
    keep = make(fail_open="keep")
    decide_one(keep)
    keep.observe("p1", [0.0] * 8)
    d = decide_one(keep, features=False)
    assert (d.kind, d.fail_open, d.predicted_pass_rate, d.source) == ("keep", True, None, None)
    assert [x.kind for x in keep.decide_without_features([PROMPT, {"id": "q", "text": "t"}])] == ["keep", "keep"]
    assert keep.stats()["fail_open_decisions"] == 3

    last = make(fail_open="last_known")
    decide_one(last)
    last.observe("p1", [0.0] * 8)
    d = decide_one(last, features=False)
    assert (d.kind, d.hint_level, d.fail_open) == ("guide", 1, True)


def test_checkpoint_round_trip(tmp_path):
    plugin = make()
    prompts = [{"id": f"q{i}", "text": f"Question {i}?", "reference": SOLUTION} for i in range(6)]
    features = [synthetic_features(p["id"], p["text"]) for p in prompts]
    plugin.begin_epoch(3)
    for round_ in range(2):
        for d in plugin.decide(prompts, features):
            plugin.observe(d.prompt_id, [0.0] * 8 if int(d.prompt_id[1:]) % 2 else [1.0, 0.0] * 4)
    path = tmp_path / "plugin.json"
    plugin.save(path)

    restored = make()
    restored.load(str(path))
    assert restored.stats() == plugin.stats()
    a = [(d.kind, d.hint_level, d.prompt_text) for d in plugin.decide(prompts, features)]
    b = [(d.kind, d.hint_level, d.prompt_text) for d in restored.decide(prompts, features)]
    assert a == b and {lvl for _, lvl, _ in a} == {0, 2}

    # A checkpoint that does not fit leaves the plugin as it was.
    before = restored.stats()
    (tmp_path / "bad.json").write_text(path.read_text()[:-40])
    with pytest.raises(RuntimeError):
        restored.load(tmp_path / "bad.json")
    assert restored.stats() == before
    three_rungs = make(hint_ladder=[0.5, 0.75], start_rung_below=[0.1, 0.01])
    with pytest.raises(RuntimeError, match="rung"):
        three_rungs.load(path)
