"""The pybind11 module: types, keyword construction, errors as the right exceptions, stats, GIL."""
import datetime
import json
import subprocess
import sys
import threading
import time

import pytest

import sparsegate
from fakes import SCHEMA, synthetic_features

# A loopback port nothing listens on: connections are refused at once.
DEAD_TARGET = "127.0.0.1:1"


def test_import_does_not_pull_in_frameworks():
    code = "import sys, sparsegate; print(sorted(m for m in ('verl', 'trl', 'openrlhf', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_version_and_names():
    assert sparsegate.__version__.count(".") == 2
    assert len(sparsegate.sparsity_metric_names()) == 14
    assert "top10_energy" in sparsegate.sparsity_metric_names()


def test_feature_schema():
    assert len(SCHEMA) == 14
    assert SCHEMA.columns[0] == "layer-1/last_token/heavy_tail_fraction"
    assert SCHEMA.index_of("layer-1/last_token/top10_energy") == SCHEMA.columns.index("layer-1/last_token/top10_energy")
    assert SCHEMA.index_of("nope") is None
    assert sparsegate.FeatureSchema(list(SCHEMA.columns)) == SCHEMA
    with pytest.raises(ValueError, match="twice"):
        sparsegate.FeatureSchema(["a", "a"])


def test_prompt_features():
    f = sparsegate.PromptFeatures(metrics=[0.5] * 3, token_count=7, hidden=[1.0, 2.0])
    assert (f.metrics, f.token_count, f.hidden) == ([0.5] * 3, 7, [1.0, 2.0])
    assert f and not f.empty()
    assert not sparsegate.PromptFeatures() and "empty" in repr(sparsegate.PromptFeatures())


def test_plugin_config_keywords_round_trip():
    knobs = {
        "hint_ladder": [0.2, 0.4, 0.6, 0.8], "start_rung_below": [0.2, 0.1, 0.05, 0.01],
        "success_threshold": 0.9, "step_down_after_successes": 3, "quarantine_epochs": 4,
        "no_reference_quarantine_after": 5, "drop_below": 0.01, "enable_defer": True, "defer_above": 0.99,
        "defer_after_all_pass_groups": 4, "defer_epochs": 2, "prior_may_drop_or_defer": True,
        "fail_open": "last_known", "min_training_groups": 10, "min_holdout_groups": 4, "holdout_modulus": 3,
        "l2_metrics": 2.0, "l2_hidden": 8.0, "hidden_probe_dims": 16, "hidden_excluded_channels": [3, 5],
        "max_observations": 100, "prior_metric_column": "layer-1/last_token/hoyer",
        "prior_direction": "lower_is_harder", "prior_length_bins": 3, "prior_min_prompts_per_bin": 5,
        "prior_easiest_pass_rate": 0.7, "prior_hardest_pass_rate": 0.1, "hint_min_kept_share": 0.5,
        "hint_math_overshoot_share": 0.1,
    }
    config = sparsegate.PluginConfig(**knobs)
    for key, value in knobs.items():
        got = getattr(config, key)
        assert got == pytest.approx(value) if isinstance(value, float) else got == value, key
    sparsegate.TrainerPlugin.create(SCHEMA, config)  # a valid whole


def test_plugin_config_placement_and_errors():
    assert sparsegate.PluginConfig().hint_placement == "default"
    ghpo = sparsegate.PluginConfig(hint_placement="ghpo")
    assert "beginning part of the answer" in ghpo.hint_template
    assert sparsegate.PluginConfig(hint_template="\nHint: {hint}").hint_placement == "custom"
    with pytest.raises(TypeError, match="unexpected keyword argument 'hint_ladderr'"):
        sparsegate.PluginConfig(hint_ladderr=[0.5])
    with pytest.raises(ValueError, match="fail_open"):
        sparsegate.PluginConfig(fail_open="sometimes")
    with pytest.raises(ValueError, match="hint_placement"):
        sparsegate.PluginConfig(hint_placement="middle")
    with pytest.raises(ValueError, match="hint_ladder"):
        sparsegate.TrainerPlugin.create(SCHEMA, sparsegate.PluginConfig(hint_ladder=[0.5, 0.25, 0.75]))
    with pytest.raises(ValueError, match="hint"):
        sparsegate.TrainerPlugin.create(SCHEMA, sparsegate.PluginConfig(hint_template="no placeholder"))


def test_client_options_keywords():
    o = sparsegate.ClientOptions(target="dns:///scorer:50051", layers=[-1, -4], poolings=["last_token", "mean"],
                                 return_hidden=True, exclude_detected_outliers=True, apply_chat_template=True,
                                 truncate_left=False, max_prompts_per_call=8, deadline=2.5, max_attempts=2,
                                 initial_backoff=datetime.timedelta(milliseconds=50), max_backoff=1)
    assert o.target == "dns:///scorer:50051" and o.layers == [-1, -4] and o.poolings == ["last_token", "mean"]
    assert o.return_hidden and o.exclude_detected_outliers and o.apply_chat_template and not o.truncate_left
    assert o.max_prompts_per_call == 8 and o.max_attempts == 2
    assert o.deadline == datetime.timedelta(seconds=2.5)
    assert o.initial_backoff == datetime.timedelta(milliseconds=50) and o.max_backoff == datetime.timedelta(seconds=1)
    with pytest.raises(TypeError):
        sparsegate.ClientOptions(adress="x")


def make_plugin(**knobs):
    return sparsegate.TrainerPlugin.create(SCHEMA, sparsegate.PluginConfig(prior_hardest_pass_rate=0.2, **knobs))


def test_decide_argument_errors():
    plugin = make_plugin()
    f = synthetic_features("a")
    with pytest.raises(ValueError, match="2 prompts but 1 feature"):
        plugin.decide([{"id": "a", "text": "x"}, {"id": "b", "text": "y"}], [f])
    with pytest.raises(ValueError, match="no 'id'"):
        plugin.decide([{"text": "x"}], [f])
    with pytest.raises(ValueError, match="unknown key 'refernce'"):
        plugin.decide([{"id": "a", "text": "x", "refernce": "r"}], [f])
    with pytest.raises(ValueError, match="needs 'text'"):
        plugin.decide([{"id": "a"}], [f])
    with pytest.raises(TypeError, match="expected a dict"):
        plugin.decide(["just text"], [f])
    with pytest.raises(ValueError, match="prompt 0"):  # features that do not fit the schema
        plugin.decide([{"id": "a", "text": "x"}], [sparsegate.PromptFeatures(metrics=[0.1], token_count=3)])
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        plugin.observe("a", [0.0, 1.5])
    with pytest.raises(ValueError, match="no rewards"):
        plugin.observe("a", [])
    # Used to be accepted: two decisions pending under one id, and an int id equal to a str one.
    with pytest.raises(ValueError, match="prompts 0 and 1 share the id 'a'"):
        plugin.decide([{"id": "a", "text": "x"}, {"id": "a", "text": "y"}], [f, f])
    with pytest.raises(ValueError, match="prompts 0 and 1 share the id '5'"):
        plugin.decide([{"id": 5, "text": "x"}, {"id": "5", "text": "y"}], [f, f])
    with pytest.raises(ValueError, match="'text' cannot be encoded as UTF-8"):
        plugin.decide([{"id": "a", "text": "bad \ud800 text"}], [f])
    with pytest.raises(ValueError, match="'id' cannot be encoded as UTF-8"):
        plugin.decide([{"id": "\udfff", "text": "x"}], [f])
    assert plugin.stats()["decisions"] == {"keep": 0, "guide": 0, "drop": 0, "defer": 0}  # nothing changed


def test_client_refuses_what_it_cannot_honour():
    for target in ("not an address", "localhost", "host:0", "host:70000", "ipv4:127.0.0.1:1,nope", "dns:"):
        with pytest.raises(ValueError, match="is none of host:port"):
            sparsegate.Gate.create(target=target)
    for size in (0, -1):
        with pytest.raises(ValueError, match=f"max_prompts_per_call is {size}; it must be at least 1"):
            sparsegate.Gate.create(target=DEAD_TARGET, max_prompts_per_call=size)
    gate = sparsegate.Gate.create(target=DEAD_TARGET, deadline=0.2, max_attempts=1)
    for target in (float("nan"), -0.1, 1.5):
        with pytest.raises(ValueError, match="it must be a pass rate in"):
            gate.select([{"id": "a", "text": "x"}], 1, target=target)
    with pytest.raises(ValueError, match="share the id"):
        gate.decide([{"id": "a", "text": "x"}, {"id": "a", "text": "x"}])


def test_checkpoint_errors(tmp_path):
    plugin = make_plugin()
    with pytest.raises(FileNotFoundError, match="missing.json"):
        plugin.load(tmp_path / "missing.json")
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("{not json")
    with pytest.raises(RuntimeError, match="DATA_LOSS"):
        plugin.load(corrupt)
    other = sparsegate.TrainerPlugin.create(sparsegate.FeatureSchema.for_feature_sets(["layer-2/mean"]))
    other.save(tmp_path / "other.json")
    with pytest.raises(RuntimeError, match="FAILED_PRECONDITION.*schema"):
        plugin.load(tmp_path / "other.json")
    with pytest.raises(FileNotFoundError):
        plugin.save(tmp_path / "no" / "such" / "dir" / "x.json")


def test_decision_object():
    plugin = make_plugin()
    prompt = {"id": 7, "text": "What is 6 * 7?", "reference": "6 * 7 = 42.\nThe answer is 42."}
    d = plugin.decide([prompt], [synthetic_features("7")])[0]
    assert d.prompt_id == "7" and d.kind == "keep" and d.rolled_out and not d.fail_open
    assert d.prompt_text == prompt["text"] and d.hint_text == "" and d.hint_level == 0
    assert 0 < d.predicted_pass_rate < 1 and d.source == "prior"
    assert d.reason and d.prompt_ids == []
    r = repr(d)
    assert r.startswith("Decision(id='7', kind='keep'") and "[prior]" in r
    as_dict = d.to_dict()
    assert as_dict["kind"] == "keep" and as_dict["predicted_pass_rate"] == d.predicted_pass_rate
    json.dumps(as_dict)  # plain data, e.g. for broadcasting between processes


def test_stats_shape():
    plugin = make_plugin()
    plugin.decide([{"id": "a", "text": "x"}], [None])
    stats = plugin.stats()
    assert stats["decisions"]["keep"] == 1 and stats["fail_open_decisions"] == 1
    for key in ("epoch", "decisions_by_hint_level", "prompts_by_hint_level", "tracked_prompts", "quarantined_prompts",
                "observed_groups", "zero_pass_groups", "predicted_vs_observed", "predictor"):
        assert key in stats, key
    assert stats["predictor"]["active"] == "prior"
    assert len(stats["predicted_vs_observed"]["bins"]) == 10


def test_forward_quality_windows_and_the_knobs_that_follow_the_policy():
    config = sparsegate.PluginConfig(recalibrate=True, recency_half_life_groups=256.0, recalibration_groups=128,
                                     quality_window_groups=2)
    assert (config.recalibrate, config.recency_half_life_groups, config.recalibration_groups,
            config.quality_window_groups) == (True, 256.0, 128, 2)
    with pytest.raises(ValueError, match="quality_window_groups must be at least 1"):
        sparsegate.TrainerPlugin.create(SCHEMA, sparsegate.PluginConfig(quality_window_groups=0))
    plugin = make_plugin(quality_window_groups=2)
    predicted = []
    for i, successes in enumerate((0, 3, 8)):
        d = plugin.decide([{"id": f"p{i}", "text": "x"}], [synthetic_features(f"p{i}")])[0]
        predicted.append(d.predicted_pass_rate)
        plugin.observe(f"p{i}", [1.0] * successes + [0.0] * (8 - successes))
    forward = plugin.stats()["forward_quality"]
    assert len(forward["windows"]) == 1 and forward["windows"][0]["first_group"] == 1
    window = forward["windows"][0]["predicted"]
    assert window["groups"] == 2 and window["zero_pass_groups"] == 1
    assert window["mean_predicted_pass_rate"] == pytest.approx(sum(predicted[:2]) / 2)
    assert window["mean_observed_pass_rate"] == pytest.approx(3 / 16)
    assert window["zero_pass_auroc"] in (0.0, 0.5, 1.0)
    assert forward["open_window"]["predicted"]["groups"] == 1
    # A framework's logger sees the window once, in the step that closed it.
    from sparsegate._prompts import plugin_metrics
    logged = plugin_metrics(plugin.stats(), previous={"forward_quality": {"windows": []}})
    assert logged["sparsegate/forward/ece_predicted"] == pytest.approx(window["expected_calibration_error"])
    assert "sparsegate/forward/ece_predicted" not in plugin_metrics(plugin.stats(), previous=plugin.stats())


def test_client_against_no_service_fails_open():
    client = sparsegate.DifficultyClient.create(target=DEAD_TARGET, deadline=0.5, max_attempts=1)
    assert client.schema.columns[0] == "layer-1/last_token/heavy_tail_fraction"
    features = client.score(["hello", [1, 2, 3]])
    assert [f.empty() for f in features] == [True, True]
    stats = client.stats()
    assert stats["prompts_failed_open"] == 2 and stats["failed_calls"] >= 1 and stats["last_error"]
    assert client.model_digest == ""
    with pytest.raises(RuntimeError):
        client.wait_for_service(0.2)
    with pytest.raises(TypeError, match="list of token ids"):
        client.score([3.5])
    with pytest.raises(ValueError, match="pooling"):
        sparsegate.DifficultyClient.create(target=DEAD_TARGET, poolings=["max"])


def test_gate_create_routes_keywords_and_fails_open():
    gate = sparsegate.Gate.create(target=DEAD_TARGET, deadline=0.5, max_attempts=1, hint_ladder=[0.3, 0.6],
                                  start_rung_below=[0.1, 0.01], fail_open="keep")
    assert gate.plugin.config.hint_ladder == [0.3, 0.6]
    assert gate.client.schema == gate.plugin.schema
    batch = [{"id": "a", "text": "2 + 2?", "reference": "4"}, {"id": "b", "ids": [5, 6, 7]}]
    decisions = gate.decide(batch)
    assert [(d.kind, d.fail_open, d.predicted_pass_rate) for d in decisions] == [("keep", True, None)] * 2
    assert decisions[1].prompt_ids == [5, 6, 7]
    stats = gate.stats()
    assert stats["fail_open_decisions"] == 2 and stats["client"]["prompts_failed_open"] == 2
    assert stats["model_digest"] == ""
    with pytest.raises(TypeError, match="unexpected keyword argument 'targte'"):
        sparsegate.Gate.create(targte="x")
    config = sparsegate.PluginConfig(hint_ladder=[0.5])
    gate = sparsegate.Gate.create(config=config, start_rung_below=[0.05],
                                  client=sparsegate.ClientOptions(target=DEAD_TARGET), deadline=0.2)
    assert gate.plugin.config.hint_ladder == [0.5] and gate.plugin.config.start_rung_below == [0.05]


def test_network_calls_release_the_gil():
    client = sparsegate.DifficultyClient.create(target=DEAD_TARGET, deadline=1.0, max_attempts=1)
    done = threading.Event()
    took = []

    def wait():
        start = time.monotonic()
        with pytest.raises(RuntimeError):
            client.wait_for_service(0.8)
        took.append(time.monotonic() - start)
        done.set()

    thread = threading.Thread(target=wait)
    thread.start()
    last = time.monotonic()
    longest_stall = 0.0
    while not done.is_set():
        now = time.monotonic()
        longest_stall = max(longest_stall, now - last)
        last = now
    thread.join()
    assert took and took[0] > 0.5  # the call did wait...
    assert longest_stall < 0.25    # ...and this thread kept running meanwhile
