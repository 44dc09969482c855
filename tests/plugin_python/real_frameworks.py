"""Running the adapter tests against the real verl / verl-recipe / TRL / OpenRLHF source.

Off unless ``SPARSEGATE_REAL_FRAMEWORKS`` names the framework source (``:``-separated folders that
hold ``verl/``, ``trl/``, ``openrlhf/``, ``recipe/``, e.g. checkouts, or a site-packages). Then
conftest.py calls :func:`install` instead of putting ``stubs/`` on ``sys.path``:

* the given folders go first on ``sys.path``, so ``import verl`` / ``trl`` / ``openrlhf`` /
  ``recipe`` load the real code;
* ``real_fakes/`` comes next: minimal fakes of third-party packages the real frameworks import
  at module level and that are not installed here (each says why it is a fake);
* from ``stubs/`` only the harness modules and the stand-ins in :data:`STAND_INS` are reachable, and
  only when nothing real of that name is importable (a finder at the end of ``sys.meta_path``);
* the packages in :data:`PLACEHOLDERS` (GPU, cluster, or not installed and not needed by the code
  paths the tests take) import as placeholders: any name in them is a class that can be subclassed
  and named in annotations, and that raises :class:`PlaceholderCalled` when instantiated or called.

Every test is traced (``sys.setprofile``, all threads): the functions it called in the framework
trees are recorded, with its outcome, into ``$SPARSEGATE_REAL_REPORT`` (JSON) for
``scripts/frameworks/real_table.py``, which writes ``tests/plugin_python/REAL_FRAMEWORKS.md``.
"""
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import pkgutil
import sys
import threading
import types

HERE = os.path.dirname(os.path.abspath(__file__))
STUBS = os.path.join(HERE, "stubs")
REAL_FAKES = os.path.join(HERE, "real_fakes")
FRAMEWORKS = ("verl", "recipe", "trl", "openrlhf", "torchdata")  # torchdata: verl's StatefulDataLoader

# Stand-ins kept from stubs/ (used only when no real package of that name is importable):
STAND_INS = {
    "omegaconf": "fallback only: Debian's python3-omegaconf (2.2) is used where installed",
    "transformers": "not installed and too large to fetch (1.3 GB); names it lacks are placeholders",
    "accelerate": "not installed; TRL's multi-process calls run on simworld's threads",
    "simworld": "harness (N threads as N accelerate processes)",
    "simmodels": "harness (fake causal LM and byte tokenizer)",
    "fakes": "harness", "fake_verl": "harness",
    "sparsegate_fake_agent_loop": "stubs/verl/experimental/agent_loop/single_turn_agent_loop.py, loaded as the "
                                  "rollout of test_verl.py's agent loop workers (real_fakes/verl_cluster.py)",
}
# Fakes in real_fakes/, each the smallest thing the real code's import and CPU paths need:
REAL_FAKES_WHY = {
    "ray": "cluster runtime: ray.remote / get / put run in this process",
    "tensordict": "not packaged in Debian, no PyPI here: TensorDict as a dict of tensors with a batch size",
    "datasets": "not packaged in Debian, no PyPI here: load_dataset of json / parquet rows",
    "codetiming": "not packaged in Debian, no PyPI here: Timer as a context manager",
    "hydra": "not packaged in Debian, no PyPI here: hydra.main leaves verl's entry point undecorated",
    "pydantic": "Debian 12 has pydantic 1.10, the frameworks need 2 (ConfigDict): models as plain fields, "
                "model_validate / model_dump for verl's tool schemas",
    "verl_cluster": "what RayPPOTrainer.fit drives on GPUs and a Ray cluster (test_verl.py): the worker groups, "
                    "the actor / rollout / ref and critic workers (DataProto answers of the real keys and shapes: "
                    "zero log-probs, entropies and values, constant losses; a small checkpoint file), the LLM "
                    "servers and agent loop worker actors behind verl's own AgentLoopManager, and the resource "
                    "pools; init_workers, the CheckpointEngineManager and the rest of fit are verl's",
    "openrlhf_cluster": "what OpenRLHF's train() starts on GPUs and a Ray cluster (test_openrlhf.py): placement "
                        "groups and scheduling strategies; the vLLM engine inside RolloutRayActor (token generation by "
                        "the test's policy rule; generate_responses, SingleTurnAgentExecutor and its HTTP reward fetch "
                        "are OpenRLHF's); the DeepSpeed policy / reference / reward / critic actors (zero log-probs and "
                        "values, constant losses, a reward model that is a function of the text; the policy's engine "
                        "writes and reads mp_rank_00_model_states.pt with the client state, under OpenRLHF's own "
                        "save_checkpoint, save_ckpt and load_ckpt); the checkpoint barrier across GPU processes. The "
                        "CLI's argparse block runs from the module's source; train(), PPOTrainer.fit, the experience "
                        "maker, the samples generator and the StatefulDataLoader are OpenRLHF's",
}
# Fakes inside the tests that run real framework code, in place of what needs a GPU, a cluster, a
# model's weights or a package that is not installed:
TEST_DOUBLES = {
    "verl rollout (test_real_frameworks.py)": "the agent loop's GPU engines: n one-token responses per prompt, "
                                              "as DataProto tensors",
    "verl dataloader (test_real_frameworks.py)": "torch's DataLoader with verl's sampler and collate_fn (test_verl.py "
                                                 "uses torchdata's real StatefulDataLoader when a torchdata root is given)",
    "verl rollout (test_verl.py)": "each agent loop worker runs stubs/verl/experimental/agent_loop/"
                                   "single_turn_agent_loop.py on its chunk: verl's single-turn prompt rendering, padding, "
                                   "reward loop scores and output layout, with a rule over the prompt text as the policy",
    "OpenRLHF vLLM engine": "token generation (GPU) behind RolloutRayActor's real generate_responses and "
                            "SingleTurnAgentExecutor",
    "vllm.SamplingParams": "a record of its keyword arguments (vLLM, a GPU engine, is not installed)",
    "OpenRLHF reward server": "an HTTP server answering as cli/serve_rm.py does (its reward model needs a GPU); in "
                              "test_openrlhf.py it answers the reward the policy rule gave each response, and HTTP 500 "
                              "where the rule gives none (the executor retries, then gives up)",
    "OpenRLHF tokenizer and TensorBoard writer (test_openrlhf.py)": "get_tokenizer loads a character tokenizer with a "
                              "ChatML template (transformers is not installed); TensorboardLogger's SummaryWriter "
                              "records its scalars (tensorboard is not installed)",
    "tokenizer classes": "word / character / byte tokenizers (transformers is not installed)",
    "TRL policy (test_trl.py)": "simmodels.FakeCausalLM in place of a model's weights: generate() answers by a "
                                "rule over the prompt text; forward() returns logits from one trainable bias per "
                                "vocabulary entry, so the real GRPOTrainer computes its log-probs, loss and gradient",
    "TRL model card (test_trl.py)": "_BaseTrainer.create_model_card only records its calls: the card needs "
                                    "huggingface_hub's ModelCard (not installed) and importlib.metadata versions of "
                                    "trl, transformers, datasets and tokenizers (source checkout and stand-ins)",
}
# Real third-party packages the frameworks import, from Debian (scripts/frameworks/run_real.sh
# checks they are there and names the apt-get line that installs them):
DEBIAN = {"cachetools": "python3-cachetools", "tqdm": "python3-tqdm", "omegaconf": "python3-omegaconf",
          "antlr4": "python3-antlr4", "filelock": "python3-filelock", "yaml": "python3-yaml",
          "aiohttp": "python3-aiohttp"}
# Imported as placeholders: the reason each cannot be real here.
PLACEHOLDERS = {
    "transformers": "names the transformers stand-in lacks (the real package is not installed)",
    "PIL": "not installed; images only",
    "hydra": "names the hydra fake lacks (not installed; verl's CLI entry point and agent loop factory)",
    "torchdata": "not installed: give a pytorch/data checkout as a root (run_real.sh --torchdata-git) for the real "
                 "StatefulDataLoader; without it the tests that drive verl's fit are not runnable",
    "wandb": "not installed; logging", "swanlab": "not installed; logging",
    "peft": "not installed; LoRA", "vllm": "GPU inference engine", "sglang": "GPU inference engine",
    "deepspeed": "GPU training engine", "flash_attn": "GPU kernels", "liger_kernel": "GPU kernels",
    "torch_npu": "Ascend NPU", "fastapi": "not installed; HTTP server",
    "uvicorn": "not installed; HTTP server", "pylatexenc": "not installed", "math_verify": "not installed",
    "einops": "not installed", "huggingface_hub": "not installed (network)", "safetensors": "not installed",
    "tokenizers": "not installed", "rich": "not installed; console output", "loguru": "not installed; logging",
    "jsonlines": "not installed", "regex": "not installed",
    "sentencepiece": "not installed", "dill": "not installed", "cloudpickle": "not installed",
    "tensorboard": "not installed; logging", "torchvision": "not installed; images only",
    "qwen_vl_utils": "not installed; images only", "mathruler": "not installed",
    "pandas": "not installed", "pyarrow": "not installed", "optree": "not installed",
    # Submodules of the fakes in real_fakes/ that the fakes do not provide:
    "ray": "cluster runtime (real_fakes/ray covers ray.remote / get / put)",
    "tensordict": "not installed (real_fakes/tensordict covers TensorDict)",
    "datasets": "not installed (real_fakes/datasets covers json files)",
    "pydantic": "names the pydantic fake lacks",
    "omegaconf": "names the omegaconf stand-in lacks",
    "accelerate": "names the accelerate stand-in lacks",     "openai": "not installed; HTTP client", "httpx": "not installed; HTTP client",
    # torch here is 1.13; the frameworks need torch >= 2.4 for these:
    "orjson": "not installed", "torch.distributed.device_mesh": "torch 1.13 here (added in torch 2.2)",
    "torch.distributed.tensor": "torch 1.13 here (added in torch 2.x)",
    "torch.distributed.fsdp": "torch 1.13 here (FSDP2 APIs)",
    "torch.distributed.checkpoint": "torch 1.13 here",
    "torch.nn.attention": "torch 1.13 here (added in torch 2.2)",
}


# Environment variables set for the run (only where not already set), each with why:
ENVIRONMENT = {
    "CI": "TRL's trainers send a telemetry ping to the Hub when they are built unless CI is set "
          "(trl/trainer/base_trainer.py _send_telemetry, as TRL's own test runs do); there is no network here "
          "and huggingface_hub is a placeholder",
}


class PlaceholderCalled(RuntimeError):
    pass


def needs(what, why):
    """For a test step that only the stand-ins can run here: reported as not runnable, saying why."""
    _called.append(what)
    raise PlaceholderCalled(f"{what}: {why}")


_used = set()  # placeholder names that were touched (imported / named)
_called = []  # placeholder names that were called


def _placeholder_class(qualname):
    last = qualname.rsplit(".", 1)[-1]
    if last.startswith("is_") and last.endswith("_available"):  # availability probes: not here
        return lambda *args, **kwargs: False
    def fail(*args, **kwargs):
        _called.append(qualname)
        raise PlaceholderCalled(f"{qualname} is a placeholder (not available here: "
                                f"{PLACEHOLDERS.get(qualname.split('.')[0], 'placeholder')})")

    class Meta(type):
        def __getattr__(cls, name):
            if name.startswith("__"):
                raise AttributeError(name)
            return _placeholder_class(f"{qualname}.{name}")

    def new(cls, *args, **kwargs):
        if getattr(cls, "_sg_placeholder", None) == qualname:  # the placeholder itself, not a subclass
            fail()
        return object.__new__(cls)

    return Meta(qualname.rsplit(".", 1)[-1], (), {"_sg_placeholder": qualname, "__new__": new,
                                                   "__call__": lambda self, *a, **k: fail(),
                                                   "__init__": lambda self, *a, **k: None,
                                                   "__module__": qualname.rsplit(".", 1)[0]})


class _PlaceholderModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        _used.add(f"{self.__name__}.{name}")
        value = _placeholder_class(f"{self.__name__}.{name}")
        setattr(self, name, value)
        return value


def _from_framework():
    """Whether the import statement being run is in the framework source (not, say, in torch,
    which probes optional packages with try/except ImportError)."""
    frame = sys._getframe(2)
    while frame is not None and (frame.f_code.co_filename.startswith("<frozen")
                                 or "importlib" in frame.f_code.co_filename):
        if frame.f_code.co_name == "find_spec" and "importlib" in frame.f_code.co_filename:
            return False  # an availability probe (importlib.util.find_spec): the package is absent
        frame = frame.f_back
    return frame is not None and frame.f_code.co_filename.startswith(tuple(r + os.sep for r in roots() + [REAL_FAKES]))


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """After the path finders: stand-ins from stubs/, then placeholders. With first=True, before
    them: the parts of installed packages (torch 1.13) that the frameworks need newer versions of."""

    def __init__(self, first=False):
        self.first = first

    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        dotted = next((k for k in PLACEHOLDERS if "." in k and (name == k or name.startswith(k + "."))), None)
        if self.first:
            if dotted and (dotted in sys.modules or _from_framework()):
                return importlib.machinery.ModuleSpec(name, self, is_package=True)
            return None
        if top in STAND_INS and "." not in name:
            spec = importlib.machinery.PathFinder.find_spec(name, [STUBS])
            if spec is not None:
                return spec
        if top in PLACEHOLDERS and (top in sys.modules or _from_framework()):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _PlaceholderModule(spec.name)
        module.__path__ = []
        _used.add(spec.name)
        return module

    def exec_module(self, module):
        if module.__name__ == "transformers":  # never reached while the stand-in exists
            pass


def _extend_stand_in(module_name):
    """Names a stand-in lacks become placeholders (module-level __getattr__)."""
    module = sys.modules.get(module_name)
    if module is None or hasattr(module, "_sg_extended"):
        return

    def __getattr__(name):
        if name.startswith("__"):
            raise AttributeError(name)
        _used.add(f"{module_name}.{name}")
        return _placeholder_class(f"{module_name}.{name}")
    module.__getattr__ = __getattr__
    module._sg_extended = True


# torch here is 1.13; the frameworks name a few torch 2 attributes at import time:
TORCH_SHIMS = {
    "torch.compile": "identity decorator (torch 2.0 API; nothing is compiled here)",
    "torch.optim.lr_scheduler.LRScheduler": "torch 1.13's _LRScheduler (renamed in torch 2.0)",
    "torch.distributed.DeviceMesh, init_device_mesh": "placeholders (torch 2.2 APIs, GPU meshes)",
    "torch.cpu.is_available": "True, as in torch >= 2.1 (verl's get_torch_device() answers torch.cpu on a machine "
                              "without CUDA, and DataProto's unpickling asks it is_available())",
    "torch.no_grad(fn)": "torch 1.13's no_grad also taking the function, so that verl's bare `@torch.no_grad` "
                         "(verl/utils/activation_offload.py, imported by verl.trainer.main_ppo) works as in "
                         "torch >= 2.1 (pytorch/pytorch#107086)",
}


def _torch_shims():
    import torch
    import torch.optim.lr_scheduler as lr
    if not hasattr(torch, "compile"):
        torch.compile = lambda fn=None, **kwargs: fn if fn is not None else (lambda f: f)
    import torch.distributed as dist
    for name in ("DeviceMesh", "init_device_mesh"):
        if not hasattr(dist, name):
            setattr(dist, name, _placeholder_class(f"torch.distributed.{name}"))
    import torch.cpu
    if not hasattr(torch.cpu, "is_available"):
        torch.cpu.is_available = lambda: True
    if not hasattr(lr, "LRScheduler"):
        lr.LRScheduler = lr._LRScheduler
    try:
        torch.no_grad(lambda: None)
    except TypeError:
        torch.no_grad = _bare_no_grad(torch.no_grad)


# What no shim can honestly provide on torch 1.13, each with where the real code needs it:
TORCH_LIMITS = {
    "int32 index tensors": "verl's DataProto.select_idxs (verl/protocol.py:659) casts list indices to int32 and indexes "
                           "each tensor with them (protocol.py:673); torch 2 accepts int32 indices, torch 1.13 raises "
                           "IndexError. The DAPO recipe's group filter reaches it every generation batch "
                           "(recipe/dapo/dapo_ray_trainer.py:267, new_batch[kept_traj_idxs]). A shim would have to "
                           "override Tensor.__getitem__ in Python, which on torch 1.13 permanently changes how "
                           "torch.tensor() reads lists of 0-d tensors (OpenRLHF's samples_generator.py:285 then fails)",
}


def torch_limit(owner, name, limit, refused=IndexError):
    """Wraps ``owner.name`` so that the error torch 1.13 raises for ``limit`` is reported as not
    runnable (``needs``) with TORCH_LIMITS' reason, instead of as a failure; nothing else changes."""
    import functools
    import torch
    method = getattr(owner, name)
    if getattr(method, "_sg_limit", False) or not torch.__version__.startswith("1."):
        return

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except refused as error:
            needs(f"torch >= 2 ({limit})", f"{TORCH_LIMITS[limit]}; torch {torch.__version__} said: {error}")
    wrapper._sg_limit = True
    setattr(owner, name, wrapper)


def _bare_no_grad(no_grad):
    class BareNoGrad(no_grad):
        def __new__(cls, func=None):
            return no_grad()(func) if callable(func) else super().__new__(cls)

        def __init__(self, func=None):
            super().__init__()
    return BareNoGrad


def _absent_placeholders(find_spec):
    """importlib.util.find_spec answering None for a placeholder already imported, as it does for
    an absent package: the frameworks probe optional packages with it (TRL's is_vllm_available
    then reads a version), and a placeholder that another framework imported first must not
    look installed."""
    def probe(name, package=None):
        if isinstance(sys.modules.get(name), _PlaceholderModule):
            return None
        return find_spec(name, package)
    return probe


def roots():
    value = os.environ.get("SPARSEGATE_REAL_FRAMEWORKS", "")
    return [os.path.abspath(p) for p in value.split(os.pathsep) if p]


def install():
    """Called by conftest.py when SPARSEGATE_REAL_FRAMEWORKS is set."""
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != STUBS]  # stand-ins only via _Finder
    for path in reversed([REAL_FAKES] + roots()):
        sys.path.insert(0, path)
    sys.path.append(HERE)
    sys.meta_path.append(_Finder())
    sys.meta_path.insert(0, _Finder(first=True))
    importlib.util.find_spec = _absent_placeholders(importlib.util.find_spec)
    for name in ENVIRONMENT:
        os.environ.setdefault(name, "1")
    _torch_shims()
    for name in ("transformers", "omegaconf", "accelerate"):
        module = importlib.import_module(name)  # the stand-in, or a real one if installed
        if os.path.dirname(os.path.dirname(module.__file__)) == STUBS:
            # Every submodule now, so that each is extended before the frameworks import names
            # from it (a submodule first imported later would answer a missing name with a
            # placeholder module, which cannot be called).
            for info in pkgutil.walk_packages(module.__path__, name + "."):
                importlib.import_module(info.name)
            for sub in [m for m in list(sys.modules) if m == name or m.startswith(name + ".")]:
                _extend_stand_in(sub)


# --- tracing ---------------------------------------------------------------------------------

class Tracer:
    def __init__(self):
        self.prefixes = tuple(os.path.join(r, f) + os.sep for r in roots() for f in FRAMEWORKS)
        self.calls = None
        self.lock = threading.Lock()

    def _profile(self, frame, event, arg):
        if event != "call":
            return
        filename = frame.f_code.co_filename
        if filename.startswith(self.prefixes) and frame.f_code.co_flags & 0x1:  # functions, not module/class bodies
            root = next(r for r in roots() if filename.startswith(r + os.sep))
            key = f"{os.path.relpath(filename, root)}:{frame.f_code.co_qualname if hasattr(frame.f_code, 'co_qualname') else frame.f_code.co_name}"
            with self.lock:
                if self.calls is not None:
                    self.calls[key] = self.calls.get(key, 0) + 1

    def start(self):
        self.calls = {}
        del _called[:]
        threading.setprofile(self._profile)
        sys.setprofile(self._profile)

    def stop(self):
        sys.setprofile(None)
        threading.setprofile(None)
        calls, self.calls = self.calls or {}, None
        return calls, sorted(set(_called))


def framework_modules():
    """The real framework modules imported so far, with their files."""
    out = {}
    prefixes = tuple(r + os.sep for r in roots())
    for name, module in list(sys.modules.items()):
        f = getattr(module, "__file__", None) or ""
        if name.split(".")[0] in FRAMEWORKS and f.startswith(prefixes):
            out[name] = f
    return out


def _loaded_from(folder):
    """Top-level names of the modules imported from under folder."""
    prefix = os.path.realpath(folder) + os.sep
    return sorted({name.split(".")[0] for name, module in list(sys.modules.items())
                   if os.path.realpath(getattr(module, "__file__", None) or os.devnull).startswith(prefix)})


def third_party():
    """The DEBIAN packages imported in this run, with their versions."""
    out = {}
    for name in DEBIAN:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            out[name] = str(getattr(module, "__version__", "?"))
    return out


def write_report(path, tests, collect_errors):
    with open(path, "w") as f:
        json.dump({"roots": roots(), "tests": tests, "collect_errors": collect_errors,
                   "placeholders_touched": sorted(_used), "modules": sorted(framework_modules()),
                   "stand_ins_used": _loaded_from(STUBS), "fakes_used": _loaded_from(REAL_FAKES),
                   "third_party": third_party()}, f, indent=1)
