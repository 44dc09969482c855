"""Stand-in for OpenRLHF (github.com/OpenRLHF/OpenRLHF at commit 3c3be6234e0cb353e76bb8019947db9dfe99fca7).

Pure Python on torch: no Ray, vLLM, DeepSpeed or HF models. Module paths and the names and
signatures of everything mirrored are the real ones at that commit; bodies are written for the
tests. Where the real code needs a model, a callable stands in (see openrlhf.trainer.ray.vllm_engine
and openrlhf.trainer.ray.launcher). Ray itself is replaced by openrlhf._fake_ray.
"""
