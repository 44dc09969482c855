"""Stand-in for trl/generation/vllm_generation.py (huggingface/trl at f2cd57710ae345ea6428ae95363267fcf38a3dc8): VLLMGeneration,
with the vLLM engine / server replaced by the policy's own fake generation (simmodels.FakeCausalLM).

Mirrored structure of generate(prompts, images, num_generations, profiler=None)
(vllm_generation.py:503), which GRPOTrainer calls with this process's prompt token ids:
- mode "server" (:551-609): all_prompts = gather_object(prompts) and the same for images
  (collectives on every process); the main process generates num_generations completions for
  each of all_prompts[::num_generations] (the unique prompts: the copies of a prompt are
  adjacent in the global batch), others hold payload = None; broadcast_object_list([payload],
  from_process=0); prompt ids are repeated num_generations times; then each process takes
  process_slice = slice(process_index * len(prompts), (process_index + 1) * len(prompts)).
- mode "colocate" (:612-700), tensor_parallel_size=1: each process generates one completion per
  local prompt (n=1), no collective.
Returns (prompt_ids, completion_ids, logprobs, logprob_token_ids); the fake logprobs are 0.0
per token ([[[0.0]] * len] per completion) and logprob_token_ids the sampled ids.
sync_weights() does nothing (the fake server *is* the policy).
"""
from contextlib import nullcontext

from accelerate.utils import broadcast_object_list, gather_object


class VLLMGeneration:
    def __init__(self, model, accelerator, processing_class, mode: str = "colocate",
                 structured_outputs_regex=None, server_base_url=None, server_host: str = "0.0.0.0",
                 server_port: int = 8000, server_timeout: float = 240.0, group_port: int = 51216,
                 tensor_parallel_size: int = 1, gpu_memory_utilization: float = 0.9, max_model_length=None,
                 max_num_seqs=None, enable_sleep_mode: bool = False, model_impl: str = "auto",
                 trust_remote_code: bool = False, repetition_penalty: float = 1.0, temperature: float = 1.0,
                 top_p: float = 1.0, top_k: int = 0, min_p: float = 0.0, max_completion_length: int = 16,
                 logprobs=0, generation_kwargs=None):
        if mode not in ("server", "colocate"):
            raise ValueError(f"Unknown vLLM mode {mode!r}")
        if tensor_parallel_size != 1:
            raise NotImplementedError("stand-in: vllm_tensor_parallel_size > 1 is not simulated")
        self.model = model
        self.accelerator = accelerator
        self.processing_class = processing_class
        self.mode = mode
        self.tensor_parallel_size = tensor_parallel_size
        self.max_completion_length = max_completion_length
        self.logprobs = logprobs
        self.generation_kwargs = generation_kwargs or {}
        self.sync_weights_calls = 0

    def sync_weights(self):
        self.sync_weights_calls += 1

    def _engine(self, prompt_ids, n):
        """What vLLM returns for n samples per prompt: completions flattened prompt-major."""
        repeated = [ids for ids in prompt_ids for _ in range(n)]
        completion_ids = self.model.complete(repeated, self.max_completion_length)
        logprobs = [[[0.0] for _ in ids] for ids in completion_ids]
        logprob_token_ids = [[[t] for t in ids] for ids in completion_ids]
        return [list(ids) for ids in prompt_ids], completion_ids, logprobs, logprob_token_ids

    def generate(self, prompts, images, num_generations: int, profiler=None):
        profiler = profiler or nullcontext()
        accelerator = self.accelerator
        if self.mode == "server":
            all_prompts = gather_object(prompts)
            all_images = gather_object(images if images is not None else [None] * len(prompts))
            if all(img is None for img in all_images):
                all_images = None
            if accelerator.is_main_process:
                with profiler:
                    payload = self._engine(all_prompts[::num_generations], num_generations)
            else:
                payload = None
            obj_list = [payload]
            broadcast_object_list(obj_list, from_process=0)
            all_prompt_ids, all_completion_ids, all_logprobs, all_logprob_token_ids = obj_list[0]
            all_prompt_ids = [ids for ids in all_prompt_ids for _ in range(num_generations)]
            process_slice = slice(accelerator.process_index * len(prompts),
                                  (accelerator.process_index + 1) * len(prompts))
            return (all_prompt_ids[process_slice], all_completion_ids[process_slice],
                    all_logprobs[process_slice], all_logprob_token_ids[process_slice])
        with profiler:
            return self._engine(prompts, 1)
