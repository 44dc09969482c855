"""sparsegate.openrlhf against OpenRLHF's stand-in: drop before dispatch, observe every group."""
import types

import pytest
from openrlhf.trainer.ppo_utils import samples_generator

from fakes import PluginGate
from sparsegate import openrlhf as adapter
from sparsegate._prompts import stable_id

N = 4
PROMPTS = ["<|im_start|>user\nimpossible 1<|im_end|>\n", "<|im_start|>user\nmixed 2<|im_end|>\n",
           "<|im_start|>user\neasy 3<|im_end|>\n", "<|im_start|>user\nmixed 4<|im_end|>\n"]


class Engine:
    """Rollout stand-in: scores 0 for impossible prompts, 1 for easy ones, alternating for mixed."""

    def __init__(self):
        self.dispatched = []

    def __call__(self, prompt, label, n):
        self.dispatched.append(prompt)
        if "impossible" in prompt:
            scores = [0.0] * n
        elif "easy" in prompt:
            scores = [1.0] * n
        else:
            scores = [float(i % 2) for i in range(n)]
        return [{"prompt": prompt, "label": label, "reward": s, "scores": s} for s in scores]


def args():
    return types.SimpleNamespace(
        rollout=types.SimpleNamespace(batch_size=len(PROMPTS), n_samples_per_prompt=N),
        algo=types.SimpleNamespace(dynamic_filtering_enable=True, dynamic_filtering_range=(0.0, 1.0)))


def loader():
    # PromptDataset batches: (datasources, prompts, labels, images)
    return [(["math"] * len(PROMPTS), list(PROMPTS), ["answer"] * len(PROMPTS), [None] * len(PROMPTS))]


@pytest.fixture
def installed():
    original = samples_generator.SamplesGenerator
    gate = PluginGate(no_reference_quarantine_after=2)
    yield adapter.install(gate), gate
    samples_generator.SamplesGenerator = original


def make(cls, engine):
    return cls(types.SimpleNamespace(args=args()), loader(), loader(), None, [engine])


def test_install_patches_what_openrlhf_builds(installed):
    cls, gate = installed
    assert samples_generator.SamplesGenerator is cls and cls.gate is gate
    assert issubclass(cls, adapter.SamplesGenerator)


def test_observes_all_groups_and_drops_the_impossible(installed, tmp_path):
    cls, gate = installed
    engine = Engine()
    steps = []
    for _ in range(4):
        generator = make(samples_generator.SamplesGenerator, engine)  # what PPOTrainer builds
        engine.dispatched.clear()
        experiences, pass_rate, consumed, exhausted = generator.generate_samples()
        steps.append((list(engine.dispatched), len(experiences)))

    # OpenRLHF's own dynamic filtering still keeps only the mixed groups...
    assert all(n == 2 * N for _, n in steps)
    # ...while every group, filtered or not, reached the plugin; the impossible prompt (no reference)
    # is quarantined after two all-zero groups and no longer dispatched.
    assert steps[0][0] == PROMPTS and steps[1][0] == PROMPTS
    assert PROMPTS[0] not in steps[2][0] and PROMPTS[0] not in steps[3][0]
    stats = gate.stats()
    assert stats["observed_groups"] == 4 + 4 + 3 + 3 and stats["zero_pass_groups"] == 2
    assert stats["decisions"]["drop"] == 2 and stats["decisions"]["guide"] == 0
    assert stats["unknown_prompt_observations"] == 0  # ids match between dispatch and observation
    assert stable_id(PROMPTS[0]) == stable_id(steps[0][0][0])


def test_evaluation_is_untouched(installed):
    cls, gate = installed
    engine = Engine()
    generator = make(cls, engine)
    experiences = generator.generate_eval_samples()
    assert len(experiences) == len(PROMPTS) * N
    assert gate.decide_calls == [] and gate.stats()["observed_groups"] == 0


def test_never_drops_a_whole_dispatch(installed):
    cls, gate = installed
    engine = Engine()
    only_impossible = [(["math"], [PROMPTS[0]], ["a"], [None])]
    for _ in range(3):
        generator = cls(types.SimpleNamespace(args=args()), only_impossible, only_impossible, None, [engine])
        generator.generate_samples()
    assert gate.stats()["decisions"]["drop"] == 1 and engine.dispatched.count(PROMPTS[0]) == 3


def test_checkpoint_after_each_batch(tmp_path):
    original = samples_generator.SamplesGenerator
    try:
        gate = PluginGate()
        path = tmp_path / "sg.json"
        cls = adapter.install(gate, checkpoint=str(path))
        make(cls, Engine()).generate_samples()
        assert path.exists()
        other = PluginGate()
        adapter.install(other, checkpoint=str(path))  # loads an existing checkpoint
        assert other.stats() == gate.stats()
    finally:
        samples_generator.SamplesGenerator = original
        adapter.SparsegateSamplesGenerator.checkpoint = None
