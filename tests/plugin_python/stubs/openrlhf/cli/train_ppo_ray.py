"""Stand-in for openrlhf/cli/train_ppo_ray.py at OpenRLHF 3c3be6234e0cb353e76bb8019947db9dfe99fca7.

Flags are DOTTED at this commit (``--rollout.n_samples_per_prompt``), and hierarchize() makes
nested namespaces of them (``args.rollout.n_samples_per_prompt``). The real parser is built
inline under ``if __name__ == "__main__"``; here ``parse_args(argv)`` builds the subset the stand-in
uses, with the real defaults, and applies the real post-parse rules that matter (remote_url split
on commas; vllm_generate_batch_size defaults to rollout.batch_size and may exceed it only with
async; dynamic filtering needs low < high, a remote reward or agent, and n_samples_per_prompt > 1).
``train(args)`` wires the stand-ins as the real one does (engines, actor group, reward-model group
only without --reward.remote_url, PPOTrainer or PPOTrainerAsync) and, unlike the real one (which
returns None), returns the trainer. Model paths are callables here: --actor.model_name_or_path
is respond(prompt, label, n), --reward.model_name_or_path is score(text); set them on the
namespace after parsing.
"""
import argparse
from datetime import datetime

from openrlhf.utils.config import hierarchize

_FLAGS = [
    # (flag, kwargs) with the real defaults
    ("--actor.num_nodes", dict(type=int, default=1)),
    ("--actor.num_gpus_per_node", dict(type=int, default=8)),
    ("--reward.num_nodes", dict(type=int, default=1)),
    ("--reward.num_gpus_per_node", dict(type=int, default=8)),
    ("--vllm.num_engines", dict(type=int, default=None)),
    ("--vllm.tensor_parallel_size", dict(type=int, default=1)),
    ("--vllm.enable_sleep", dict(action="store_true", default=False)),
    ("--algo.advantage.is_correction_enable", dict(action="store_true", default=False)),
    ("--train.async_enable", dict(action="store_true", default=False)),
    ("--eval.steps", dict(type=int, default=-1)),
    ("--ckpt.save_steps", dict(type=int, default=-1)),
    ("--logger.logging_steps", dict(type=int, default=1)),
    ("--logger.wandb.key", dict(type=str, default=None)),
    ("--logger.wandb.run_name", dict(type=str, default="ppo_%s" % datetime.now().strftime("%m%dT%H:%M"))),
    ("--logger.tensorboard_dir", dict(type=str, default=None)),
    ("--ckpt.path", dict(type=str, default="./ckpt/checkpoints_ppo_ray")),
    ("--ckpt.save_hf", dict(action="store_true", default=False)),
    ("--ckpt.disable_ds", dict(action="store_true", default=False)),
    ("--ckpt.max_num", dict(type=int, default=3)),
    ("--ckpt.max_mem", dict(type=float, default=float("inf"))),
    ("--ckpt.load_enable", dict(action="store_true", default=False)),
    ("--ckpt.best_metric_key", dict(type=str, default="")),
    ("--ds.zero_stage", dict(type=int, default=2)),
    ("--ds.ring_attn_size", dict(type=int, default=1)),
    ("--ds.tensor_parallel_size", dict(type=int, default=1)),
    ("--train.dynamic_batch_enable", dict(action="store_true", default=False)),
    ("--train.num_episodes", dict(type=int, default=1)),
    ("--rollout.batch_size", dict(type=int, default=1024)),
    ("--rollout.vllm_generate_batch_size", dict(type=int, default=None)),
    ("--rollout.micro_batch_size", dict(type=int, default=1)),
    ("--train.max_epochs", dict(type=int, default=1)),
    ("--data.max_len", dict(type=int, default=2048)),
    ("--rollout.max_new_tokens", dict(type=int, default=None)),
    ("--data.max_samples", dict(type=int, default=int(1e8))),
    ("--train.micro_batch_size", dict(type=int, default=1)),
    ("--train.batch_size", dict(type=int, default=128)),
    ("--rollout.top_p", dict(type=float, default=1.0)),
    ("--rollout.temperature", dict(type=float, default=1.0)),
    ("--train.seed", dict(type=int, default=42)),
    ("--rollout.n_samples_per_prompt", dict(type=int, default=1)),
    ("--algo.kl.init_coef", dict(type=float, default=0.01)),
    ("--algo.advantage.estimator", dict(type=str, default="gae", choices=[
        "gae", "reinforce", "rloo", "reinforce_baseline", "group_norm", "dr_grpo"])),
    ("--actor.model_name_or_path", dict(default=None)),
    ("--reward.model_name_or_path", dict(default=None)),
    ("--reward.remote_url", dict(type=str, default=None)),
    ("--train.agent_func_path", dict(type=str, default=None)),
    ("--data.prompt_dataset", dict(default=None)),
    ("--eval.dataset", dict(default=None)),
    ("--eval.temperature", dict(type=float, default=0.6)),
    ("--eval.n_samples_per_prompt", dict(type=int, default=4)),
    ("--data.input_key", dict(type=str, default="input")),
    ("--data.label_key", dict(type=str, default=None)),
    ("--data.input_template", dict(type=str, default=None)),
    ("--data.apply_chat_template", dict(action="store_true", default=False)),
    ("--algo.dynamic_filtering_enable", dict(action="store_true", default=False)),
    ("--algo.dynamic_filtering_range", dict(nargs=2, default=(0, 1), type=float)),
]


def parse_args(argv=None):
    parser = argparse.ArgumentParser()
    for flag, kwargs in _FLAGS:
        parser.add_argument(flag, **kwargs)
    args = hierarchize(parser.parse_args(argv))

    if args.train.agent_func_path:
        args.reward.remote_url = "agent"
    if args.reward.remote_url:
        args.reward.remote_url = args.reward.remote_url.split(",")
    if not args.rollout.vllm_generate_batch_size:
        args.rollout.vllm_generate_batch_size = args.rollout.batch_size
    if args.rollout.vllm_generate_batch_size > args.rollout.batch_size:
        assert args.train.async_enable, "--rollout.vllm_generate_batch_size > --rollout.batch_size requires async"
    if args.algo.dynamic_filtering_enable:
        assert args.algo.dynamic_filtering_range[0] < args.algo.dynamic_filtering_range[1]
        assert args.reward.remote_url or args.train.agent_func_path, \
            "remote_rm_url or agent_func_path must be specified when using dynamic filtering"
        assert args.rollout.n_samples_per_prompt > 1, "n_samples_per_prompt must be greater than 1"
    return args


def train(args):
    from openrlhf.trainer.ray import create_vllm_engines
    from openrlhf.trainer.ray.launcher import RayActorGroup, RewardModelActor
    from openrlhf.trainer.ray.ppo_actor import PolicyModelActor
    from openrlhf.utils import get_strategy
    from openrlhf import _fake_ray as ray

    strategy = get_strategy(args)
    vllm_engines = None
    if args.vllm.num_engines is not None and args.vllm.num_engines > 0:
        vllm_engines = create_vllm_engines(
            args.vllm.num_engines, args.vllm.tensor_parallel_size, args.actor.model_name_or_path, args.train.seed,
            False, False, False, args.data.max_len, None, None, args.vllm.enable_sleep, None,
            agent_func_path=args.train.agent_func_path, remote_rm_url=args.reward.remote_url)
    actor_model = RayActorGroup(args.actor.num_nodes, args.actor.num_gpus_per_node, PolicyModelActor)
    reward_model = None
    if not args.reward.remote_url:
        reward_model = RayActorGroup(args.reward.num_nodes, args.reward.num_gpus_per_node, RewardModelActor)
    if args.train.async_enable:
        raise NotImplementedError("PPOTrainerAsync is not mirrored (see /work/facts/openrlhf.md)")
    from openrlhf.trainer.ppo_trainer import PPOTrainer

    trainer = PPOTrainer(args.actor.model_name_or_path, strategy, actor_model, None, reward_model, None,
                         vllm_engines, do_sample=True, max_len=args.data.max_len,
                         max_new_tokens=args.rollout.max_new_tokens, temperature=args.rollout.temperature,
                         top_p=args.rollout.top_p)
    refs = actor_model.async_init_model_from_pretrained(strategy, args.actor.model_name_or_path,
                                                        trainer.get_max_steps(), vllm_engines)
    if reward_model is not None and args.reward.model_name_or_path:
        refs += reward_model.async_init_model_from_pretrained(strategy, args.reward.model_name_or_path)
    ray.get(refs)
    trainer.fit()
    return trainer
