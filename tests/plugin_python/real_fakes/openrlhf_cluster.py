"""Fakes of the parts of OpenRLHF (3c3be62) that need GPUs or a Ray cluster, so that the real
``openrlhf.cli.train_ppo_ray.train`` runs in a test process (test_openrlhf.py).

Real here: the argparse block under ``if __name__ == "__main__"`` (executed from the module's own
source, with ``train`` left to the caller), ``train()`` itself, ``create_vllm_engines``,
``RayActorGroup`` (``async_run_method`` / ``async_run_method_batch`` and ``execute_batch``), the
``DeepspeedStrategy`` (dataloader, ``save_ckpt`` / ``load_ckpt`` with their rotation and metric
files), ``get_tokenizer``, ``blending_datasets`` and ``PromptDataset``, ``PPOTrainer`` (fit,
train_step, ppo_train, checkpoint states, evaluation), ``RemoteExperienceMaker`` and the advantage
estimators, ``SamplesGenerator``, ``RolloutRayActor.generate_responses`` and
``SingleTurnAgentExecutor`` with its aiohttp client, the loggers. Faked, each because it needs a GPU
or a cluster:

* Ray's placement groups and scheduling strategies (GPU bundles on a cluster);
* the vLLM engine inside ``RolloutRayActor``: ``__init__`` builds no ``AsyncLLMEngine`` and
  ``generate`` answers from the test's policy, ``model(prompt, label, n) -> [(text, reward)]``
  (``--actor.model_name_or_path``), one token per character; the rewards go to the reward server;
* the reward server behind ``--reward.remote_url``: a local HTTP server answering as
  ``cli/serve_rm.py`` does, with the reward the policy gave each (prompt, response); a ``None``
  reward is an HTTP 500, which the executor retries and then gives up on;
* the DeepSpeed model actors (policy, reference, reward, critic): ``forward`` returns zero
  log-probs / values or the reward of ``--reward.model_name_or_path`` (a ``score(text)`` callable),
  ``fit`` constant losses; the policy's DeepSpeed engine writes ``mp_rank_00_model_states.pt`` with
  the client state, as DeepSpeed's ``save_checkpoint`` does, and reads it back on load;
* the cross-process barrier before a checkpoint (one process here);
* the tokenizer (transformers is not installed): one token per character, ChatML template;
* ``torch.utils.tensorboard.SummaryWriter`` (tensorboard is not installed): records the scalars.
"""
import ast
import contextlib
import contextvars
import json
import os
import sys
import threading
import types
from types import SimpleNamespace

import ray
import reward_server
import torch
from char_tokenizer import CharTokenizer

_answers = contextvars.ContextVar("sparsegate_openrlhf_answers")


class _AutoTokenizer:
    @staticmethod
    def from_pretrained(pretrained, *args, **kwargs):
        return CharTokenizer()


class RewardServer(reward_server.RewardServer):
    """serve_rm.py's answer per query; the reward is the one the policy attached to that query when
    it generated it."""

    def __init__(self):
        self.pending = {}  # query text -> rewards, in generation order
        self.lock = threading.Lock()
        super().__init__(self.reward)

    def expect(self, query, reward):
        with self.lock:
            self.pending.setdefault(query, []).append(reward)

    def reward(self, query):
        # Each request takes the next reward generated for its text; a None fails it. The
        # executor retries a failed request before the group returns, when no reward is left
        # for that text: the retries fail too.
        with self.lock:
            queue = self.pending.get(query)
            return queue.pop(0) if queue else None


_server = None


def _real(actor):
    return getattr(actor, "_target", actor)


def _rollout_actor_class():
    from openrlhf.trainer.ray import vllm_engine
    from openrlhf.utils.agent import SingleTurnAgentExecutor
    base = _real(vllm_engine.RolloutRayActor)

    class RolloutRayActor(base):
        """OpenRLHF's rollout actor without its vLLM engine (a GPU): ``generate`` samples the
        policy's answers; generate_responses, the executor and the reward fetch are OpenRLHF's."""

        def __init__(self, *args, bundle_indices=None, agent_func_path=None, remote_rm_url=None,
                     mm_pad_token_ids=None, **kwargs):
            if agent_func_path:
                self.executor = vllm_engine._load_agent_executor(agent_func_path)
            else:
                self.executor = SingleTurnAgentExecutor(remote_rm_url)
            self.policy = kwargs.pop("model")
            self.kwargs = kwargs
            self._mm_pad_token_ids = mm_pad_token_ids
            self.calls = []  # (prompt, num_samples) per generate_responses call
            self.sleeping = False

        async def generate_responses(self, prompt, label, sampling_params, max_length, hf_tokenizer,
                                     num_samples=1, images=None):
            # The n samples of this request, drawn before OpenRLHF's executor asks for them one by one.
            self.calls.append((prompt, num_samples))
            answers = list(self.policy(prompt, label, num_samples))
            assert len(answers) == num_samples, (len(answers), num_samples)
            _answers.set(iter(answers))
            return await super().generate_responses(prompt, label, sampling_params, max_length, hf_tokenizer,
                                                    num_samples=num_samples, images=images)

        async def generate(self, prompt_token_ids, sampling_params, multi_modal_data=None):
            text, reward = next(_answers.get())
            tokens = [ord(c) for c in text][:sampling_params.max_tokens]
            if _server is not None:
                _server.expect("".join(chr(i) for i in prompt_token_ids) + "".join(chr(i) for i in tokens), reward)
            finish = "length" if len(tokens) < len(text) else "stop"
            return SimpleNamespace(outputs=[SimpleNamespace(token_ids=tokens, text=text, finish_reason=finish,
                                                            logprobs=None)])

        def get_num_unfinished_requests(self):
            return 0

        async def sleep(self, level=1):
            self.sleeping = True

        async def wake_up(self, tags=None):
            self.sleeping = False

    return RolloutRayActor


class DeepSpeedEngine:
    """In place of a DeepSpeed engine (a model sharded over GPUs): its checkpoint is the file
    DeepSpeed writes for rank 0, ``{dir}/{tag}/mp_rank_00_model_states.pt`` holding the client
    state, and the ``latest`` file naming the tag."""

    def __init__(self):
        self.steps = 0

    def save_checkpoint(self, save_dir, tag=None, client_state=None, save_latest=True):
        os.makedirs(os.path.join(save_dir, tag), exist_ok=True)
        torch.save({"module": {"steps": self.steps}, **(client_state or {})},
                   os.path.join(save_dir, tag, "mp_rank_00_model_states.pt"))
        if save_latest:
            with open(os.path.join(save_dir, "latest"), "w") as f:
                f.write(tag)

    def load_checkpoint(self, load_dir, tag=None, **kwargs):
        if tag is None:
            latest = os.path.join(load_dir, "latest")
            if not os.path.exists(latest):
                return None, {}
            with open(latest) as f:
                tag = f.read().strip()
        states = torch.load(os.path.join(load_dir, tag, "mp_rank_00_model_states.pt"))
        self.steps = states.pop("module")["steps"]
        return os.path.join(load_dir, tag), states


def _model_actor_classes():
    import deepspeed
    from openrlhf.trainer.ray import launcher, ppo_actor, ppo_critic

    # A subclass of the placeholder, so that DeepspeedStrategy's isinstance checks hold.
    engine_cls = type("DeepSpeedEngine", (DeepSpeedEngine, deepspeed.DeepSpeedEngine), {"_sg_placeholder": None})

    class _Fake:
        def __init__(self, world_size, rank, master_addr, master_port):
            # BaseDistributedActor sets the torch.distributed variables of its own process.
            self._world_size, self._rank = world_size, rank
            self._master_addr, self._master_port = master_addr or "127.0.0.1", master_port or 0

        def empty_cache(self):
            pass

        def reload_states(self):
            pass

        def offload_states(self):
            pass

    def zeros(action_mask):
        return torch.zeros(action_mask.shape, dtype=torch.float32)

    class PolicyModelActor(_Fake, _real(ppo_actor.PolicyModelActor)):
        """save_checkpoint, get_checkpoint_states and execute_batch are OpenRLHF's."""

        def init_model_from_pretrained(self, strategy, pretrain, max_steps=None, vllm_engines=None):
            self.strategy = strategy
            args = strategy.args
            self.disable_ds_ckpt = args.ckpt.disable_ds
            self.save_hf_ckpt = args.ckpt.save_hf
            self.actor = SimpleNamespace(model=engine_cls())
            self.replay_buffer = []
            self.checkpoint_states = {}
            ckpt_path = os.path.join(args.ckpt.path, "_actor")
            if args.ckpt.load_enable and os.path.exists(ckpt_path):
                _, self.checkpoint_states = strategy.load_ckpt(self.actor.model, ckpt_path)

        def forward(self, sequences, action_mask=None, attention_mask=None, packed_seq_lens=None,
                    mm_train_inputs_list=None):
            return zeros(action_mask)

        def append(self, experience):
            self.replay_buffer.append(experience)

        def fit(self, kl_ctl=0):
            assert self.replay_buffer and all(e.advantages is not None for e in self.replay_buffer)
            self.replay_buffer = []
            self.actor.model.steps += 1
            return {"policy_loss": 0.0, "actor_lr": 0.0, "kl": 0.0}

        def broadcast_to_vllm(self):
            pass

        def save_model(self):
            pass

    class ReferenceModelActor(_Fake, _real(launcher.ReferenceModelActor)):
        def init_model_from_pretrained(self, strategy, pretrain):
            self.strategy = strategy

        def forward(self, sequences, action_mask=None, attention_mask=None, packed_seq_lens=None,
                    mm_train_inputs_list=None):
            return zeros(action_mask)

    class RewardModelActor(_Fake, _real(launcher.RewardModelActor)):
        def init_model_from_pretrained(self, strategy, pretrain):
            self.strategy, self.score = strategy, pretrain

        def forward(self, sequences, attention_mask=None, packed_seq_lens=None, pad_sequence=False):
            texts = CharTokenizer().decode(sequences, skip_special_tokens=True)
            return torch.tensor([float(self.score(t)) for t in texts])

    class CriticModelActor(_Fake, _real(ppo_critic.CriticModelActor)):
        def init_model_from_pretrained(self, strategy, pretrain, max_steps=None):
            self.strategy = strategy
            self.buffer = []

        def forward(self, sequences, action_mask=None, attention_mask=None, packed_seq_lens=None, **kwargs):
            return zeros(action_mask)

        def append(self, experience):
            self.buffer.append(experience)

        def fit(self):
            self.buffer = []
            return {"critic_loss": 0.0}

        def save_checkpoint(self, tag, metric_value=None, metric_key=None):
            pass

        def save_model(self):
            pass

    return {name: ray.remote(cls) for name, cls in [("PolicyModelActor", PolicyModelActor),
                                                     ("ReferenceModelActor", ReferenceModelActor),
                                                     ("RewardModelActor", RewardModelActor),
                                                     ("CriticModelActor", CriticModelActor)]}


class _PlacementGroup:
    def __init__(self, bundles, strategy="PACK"):
        self.bundle_specs, self.strategy = bundles, strategy

    def ready(self):
        return ray.put(self)


class _SummaryWriter:
    def __init__(self, log_dir=None, **kwargs):
        self.log_dir = log_dir
        self.scalars, self.texts = [], []

    def add_scalar(self, tag, scalar_value, global_step=None):
        self.scalars.append((tag, float(scalar_value), global_step))

    def add_text(self, tag, text_string, global_step=None):
        self.texts.append((tag, text_string, global_step))

    def close(self):
        pass


def parse_args(argv):
    """The namespace the real CLI builds from ``argv``: the statements under the module's
    ``if __name__ == "__main__":`` run as written, except that its closing ``train(args)`` hands the
    namespace back instead of training."""
    from openrlhf.cli import train_ppo_ray
    path = train_ppo_ray.__file__
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    main = next(node for node in tree.body if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test))
    code = compile(ast.Module(body=main.body, type_ignores=[]), path, "exec")
    captured = []
    namespace = dict(vars(train_ppo_ray), train=captured.append)
    saved = sys.argv
    sys.argv = [path, *argv]
    try:
        exec(code, namespace)
    finally:
        sys.argv = saved
    return captured[0]


def _dataset_file(rows, path):
    with open(path, "w") as f:
        json.dump(rows, f)
    return path


def _own(owner, name):
    # A class's own attribute, not one it inherits: restoring must not copy a base's onto it.
    return vars(owner).get(name, _MISSING) if isinstance(owner, type) else getattr(owner, name, _MISSING)


@contextlib.contextmanager
def _patched(pairs):
    saved = [(owner, name, _own(owner, name)) for owner, name, _ in pairs]
    for owner, name, value in pairs:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in reversed(saved):
            if value is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, value)


_MISSING = object()


def train(args):
    """Runs the real ``train(args)`` on these fakes and returns the PPOTrainer it built (the real
    one returns None), with ``steps_log``: (global_step, status) of every step fit logged.
    List-valued ``data.prompt_dataset`` / ``eval.dataset`` are written to JSON files next to
    ``ckpt.path`` first, the files a user passes."""
    global _server
    from openrlhf.cli import train_ppo_ray
    from openrlhf.trainer import ppo_trainer
    from openrlhf.trainer.ppo_utils import samples_generator
    from openrlhf.trainer.ray import launcher, ppo_actor, vllm_engine
    from openrlhf.utils import utils as openrlhf_utils
    from openrlhf.utils.deepspeed import deepspeed as ds_strategy

    folder = os.path.dirname(os.path.abspath(args.ckpt.path))
    os.makedirs(folder, exist_ok=True)
    if isinstance(args.data.prompt_dataset, list):
        args.data.prompt_dataset = _dataset_file(args.data.prompt_dataset, os.path.join(folder, "prompts.json"))
    if isinstance(args.eval.dataset, list):
        args.eval.dataset = _dataset_file(args.eval.dataset, os.path.join(folder, "eval.json"))
    server = RewardServer()
    if args.reward.remote_url:
        args.reward.remote_url = [server.url for _ in args.reward.remote_url]

    created = []
    remote = type(ray.remote(object)).remote

    def recording_remote(self, *a, **kw):
        handle = remote(self, *a, **kw)
        created.append(handle)
        return handle

    save_logs = ppo_trainer.BasePPOTrainer.save_logs_and_checkpoints

    def recording_save_logs(self, global_step, logs_dict=None, client_states=None):
        if not hasattr(self, "steps_log"):
            self.steps_log = []
        self.steps_log.append((global_step, logs_dict))
        return save_logs(self, global_step, logs_dict, client_states)

    tensorboard = types.ModuleType("torch.utils.tensorboard")
    tensorboard.SummaryWriter = _SummaryWriter
    actors = _model_actor_classes()
    rollout = ray.remote(_rollout_actor_class())
    no_barrier = lambda: None  # noqa: E731
    pairs = [(train_ppo_ray, name, cls) for name, cls in actors.items()]
    pairs += [
        (train_ppo_ray, "placement_group", _PlacementGroup),
        (vllm_engine, "placement_group", _PlacementGroup),
        (launcher, "placement_group", _PlacementGroup),
        (vllm_engine, "PlacementGroupSchedulingStrategy", SimpleNamespace),
        (launcher, "PlacementGroupSchedulingStrategy", SimpleNamespace),
        (vllm_engine, "RolloutRayActor", rollout),
        (samples_generator, "SamplingParams", lambda **kw: SimpleNamespace(**kw)),
        (openrlhf_utils, "AutoTokenizer", _AutoTokenizer),
        (ds_strategy, "torch_dist_barrier_and_cuda_sync", no_barrier),
        (ppo_actor, "torch_dist_barrier_and_cuda_sync", no_barrier),
        (ray, "init", lambda *a, **kw: None),
        (type(ray.remote(object)), "remote", recording_remote),
        (ppo_trainer.BasePPOTrainer, "save_logs_and_checkpoints", recording_save_logs),
    ]
    saved_tb = sys.modules.get("torch.utils.tensorboard")
    sys.modules["torch.utils.tensorboard"] = tensorboard
    _server = server
    try:
        with _patched(pairs):
            train_ppo_ray.train(args)
    finally:
        _server = None
        server.close()
        if saved_tb is None:
            sys.modules.pop("torch.utils.tensorboard", None)
        else:
            sys.modules["torch.utils.tensorboard"] = saved_tb
    trainer = next(h.instance for h in created if isinstance(getattr(h, "instance", None), ppo_trainer.BasePPOTrainer))
    if not hasattr(trainer, "steps_log"):
        trainer.steps_log = []
    return trainer
