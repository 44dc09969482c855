"""The policy of the RL testbed: the embedded model (models/arith-3m) with a KV-cache sampler.

The architecture is train.py's plain-torch Qwen2, imported, so the module names and the checkpoint
are the ones the C++ service loads. What this file adds is what RL needs and supervised training
did not: a forward pass over left-padded rows with per-row positions, an incremental (KV-cache)
decode for batched sampling, and the log-probabilities of given completions for the loss.

Tokenization: prompts (and hinted prompts) are tokenized by the project's own tokenizer, the
`sparsegate tokenize` CLI, as train.py does, so the policy sees the ids the service scores. When the
CLI is not built (the build may be moving, see find_sparsegate), a Python encoder of the same
byte-level BPE is used instead; tests/rl checks that the two agree whenever the CLI exists.
Completions are decoded in Python from tokenizer.json's vocabulary (byte-level, 277 entries).
"""
import json
import os
import re
import shutil
import sys
import tempfile

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see measure.py's CLI_ENV: spinning threads starve under load
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "embedded_model"))
import train  # noqa: E402
import byte_bpe  # noqa: E402
from safetensors_io import read_checkpoint, write_safetensors  # noqa: E402

ANSWER_PREFIX = train.ANSWER_PREFIX
MODEL_DIR = os.path.join(ROOT, "models", "arith-3m")  # the embedded default: its tokenizer is every policy's
# The RL starting policy: arith-3m continued on traces that forget carries (models/arith-3m-slips/README.md).
START_DIR = os.path.join(ROOT, "models", "arith-3m-slips")
SPARSEGATE_DEFAULT = "build/apps/cli/sparsegate"  # where scripts/test.sh builds the CLI
NEG = -1e9  # a finite mask value: fully masked pad queries must not produce NaN (0 * NaN in softmax @ V)


def find_sparsegate(flag=None):
    """The sparsegate CLI: the --sparsegate flag, else the build's if it exists, else None."""
    if flag:
        if not os.path.exists(flag):
            raise FileNotFoundError(f"--sparsegate {flag}: no such file")
        return flag
    path = os.path.join(ROOT, SPARSEGATE_DEFAULT)
    if os.path.isfile(path) and os.access(path, os.X_OK):  # not while the linker is still writing it
        return path
    return None


class Tokenizer:
    """Encodes with the sparsegate CLI (or the Python twin of its BPE) and decodes in Python."""

    def __init__(self, model_dir, sparsegate=None):
        self.model_dir = model_dir
        self.sparsegate = sparsegate
        self.backend = "cli" if sparsegate else "python"
        with open(os.path.join(model_dir, "tokenizer.json"), encoding="utf-8") as f:
            doc = json.load(f)
        self.vocab = doc["model"]["vocab"]
        self.ranks = {tuple(m) if isinstance(m, list) else tuple(m.split(" ")): i
                      for i, m in enumerate(doc["model"]["merges"])}
        self.specials = {t["id"]: t["content"] for t in doc["added_tokens"]}
        self.eos_id = next(i for i, s in self.specials.items() if s == train.EOS)
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        alphabet = byte_bpe.byte_alphabet()
        self.byte_of_char = {c: b for b, c in alphabet.items()}
        self.char_of_byte = alphabet
        # byte_bpe's split pattern with \p{L} / \p{N} narrowed to ASCII: Python's re has no \p classes,
        # and the Python encoder refuses non-ASCII text rather than guess.
        ascii_pattern = byte_bpe.SPLIT_PATTERN.replace(r"\p{L}\p{N}]", "A-Za-z0-9]")
        ascii_pattern = ascii_pattern.replace(r"\p{L}", "[A-Za-z]").replace(r"\p{N}", "[0-9]")
        self.split = re.compile(ascii_pattern)
        self.cache = {}  # BPE of a pre-tokenized word
        self.seen = {}   # text -> ids

    def encode(self, texts):
        """Token ids of each text (no EOS), by the CLI when there is one: one call for the texts not seen
        before (a CLI call costs about a second, most of it loading the binary)."""
        new = sorted({t for t in texts if t not in self.seen})
        if new:
            ids = train.tokenize(self.sparsegate, self.model_dir, new) if self.sparsegate else \
                [self.encode_python(t) for t in new]
            self.seen.update(zip(new, ids))
        return [list(self.seen[t]) for t in texts]

    def encode_python(self, text):
        if not text.isascii():
            raise ValueError("the Python encoder handles ASCII text only; build the sparsegate CLI")
        ids = []
        for piece in self.split.findall(text):
            ids += self._bpe("".join(self.char_of_byte[b] for b in piece.encode("utf-8")))
        return ids

    def _bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        parts = list(word)
        while len(parts) > 1:
            pairs = [(self.ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            rank, i = min(pairs)
            if rank == 1 << 30:
                break
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        self.cache[word] = [self.vocab[p] for p in parts]
        return self.cache[word]

    def decode(self, ids):
        """Text of ids; the EOS (and anything special) is left out."""
        chars = "".join(self.id_to_token[i] for i in ids if i not in self.specials)
        return bytes(self.byte_of_char[c] for c in chars).decode("utf-8", errors="replace")


class Policy(torch.nn.Module):
    """train.Qwen2 with batched, left-padded forward passes and KV-cache sampling."""

    def __init__(self, model_dir=MODEL_DIR):
        super().__init__()
        self.model_dir = model_dir
        with open(os.path.join(model_dir, "config.json")) as f:
            self.config = json.load(f)
        self.net = train.Qwen2(self.config)
        state = read_checkpoint(model_dir)
        missing, unexpected = self.net.load_state_dict(state, strict=False)
        assert not missing and not unexpected, (missing, unexpected)
        self.eos_id = self.config["eos_token_id"]
        self.generated_tokens = 0  # every token sample() produced: the ledger is checked against this

    def save(self, model_dir):
        """The weights as a model directory (config, safetensors, tokenizer) that model_dir points to.

        model_dir is a symlink switched by one atomic rename, so a reader sees the old or the new
        model, never a half-written one; the previous version is then deleted.
        """
        parent = os.path.dirname(os.path.abspath(model_dir))
        tmp = tempfile.mkdtemp(prefix=".policy-", dir=parent)
        state = self.net.state_dict()
        write_safetensors(os.path.join(tmp, "model.safetensors"), [(k, state[k]) for k in sorted(state)])
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(self.config, f, indent=1)
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(self.model_dir, name), tmp)
        previous = os.path.realpath(model_dir) if os.path.islink(model_dir) else None
        os.symlink(os.path.basename(tmp), model_dir + ".new")
        os.replace(model_dir + ".new", model_dir)
        if previous and previous != tmp:
            shutil.rmtree(previous, ignore_errors=True)

    # -- the forward pass -------------------------------------------------------------------------
    def forward_rows(self, ids, pos, mask, cache=None, start=0):
        """Logits [B, T, V] of ids [B, T] at positions pos [B, T] under an additive mask [B, 1, T, S].

        With a cache (per layer, K and V buffers [B, kv_heads, S_max, head_dim]), the new keys and
        values are written at [start, start + T) and attention runs over the first start + T slots.
        """
        net, c = self.net, self.config
        freqs = pos[..., None].float() * net.inv_freq  # [B, T, hd/2]
        emb = torch.cat([freqs, freqs], dim=-1)[:, None]  # [B, 1, T, hd]
        cos, sin = emb.cos(), emb.sin()
        x = net.model.embed_tokens(ids)
        B, T, _ = x.shape
        for li, layer in enumerate(net.model.layers):
            a = layer.self_attn
            h = layer.input_layernorm(x)
            q = a.q_proj(h).view(B, T, a.heads, a.head_dim).transpose(1, 2)
            k = a.k_proj(h).view(B, T, a.kv_heads, a.head_dim).transpose(1, 2)
            v = a.v_proj(h).view(B, T, a.kv_heads, a.head_dim).transpose(1, 2)
            q, k = train.rotate(q, cos, sin), train.rotate(k, cos, sin)
            if cache is not None:
                K, V = cache[li]
                K[:, :, start:start + T], V[:, :, start:start + T] = k, v
                k, v = K[:, :, :start + T], V[:, :, :start + T]
            # Grouped-query attention without copying K/V per query head: the query heads that share
            # a KV head are stacked along the query axis, [B, kv, group * T, hd] @ [B, kv, hd, S].
            group = a.heads // a.kv_heads
            qg = q.reshape(B, a.kv_heads, group * T, a.head_dim)
            scores = (qg @ k.transpose(-1, -2)).view(B, a.kv_heads, group, T, -1) / a.head_dim ** 0.5
            probs = torch.softmax(scores + mask[:, :, None], dim=-1).view(B, a.kv_heads, group * T, -1)
            out = (probs @ v).view(B, a.heads, T, a.head_dim)
            x = x + a.o_proj(out.transpose(1, 2).reshape(B, T, -1))
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        return net.model.norm(x) @ net.model.embed_tokens.weight.t()

    @staticmethod
    def _mask(valid_keys, T, start=0):
        """Additive mask [B, 1, T, S]: query t (absolute start + t) sees valid keys at or before it."""
        S = valid_keys.shape[1]
        causal = torch.arange(S)[None, :] <= (start + torch.arange(T))[:, None]  # [T, S]
        ok = causal[None] & valid_keys[:, None, :]
        return torch.where(ok, 0.0, NEG)[:, None]

    # -- sampling ---------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, prompts, limits, temperature=1.0, generator=None, count=True):
        """One completion per prompt (token id lists), each at most its limit of new tokens.

        Returns (completion ids incl. the EOS when produced, their log-probs under the sampling
        distribution): the rollout policy's old log-probs for the clipped surrogate.
        Temperature 0 is greedy.
        """
        B = len(prompts)
        P, N = max(map(len, prompts)), max(limits)
        S = P + N
        ids = torch.full((B, P), self.eos_id, dtype=torch.long)
        valid = torch.zeros(B, S, dtype=torch.bool)
        for r, p in enumerate(prompts):  # left padding: every row's last prompt token sits at P - 1
            ids[r, P - len(p):] = torch.tensor(p)
            valid[r, P - len(p):P] = True
        pos = (valid[:, :P].long().cumsum(1) - 1).clamp(min=0)
        c = self.config
        hd = c["hidden_size"] // c["num_attention_heads"]
        cache = [(torch.zeros(B, c["num_key_value_heads"], S, hd), torch.zeros(B, c["num_key_value_heads"], S, hd))
                 for _ in range(c["num_hidden_layers"])]
        logits = self.forward_rows(ids, pos, self._mask(valid[:, :P], P), cache, 0)[:, -1]
        next_pos = pos[:, -1] + 1
        limit = torch.tensor(limits)
        rows = torch.arange(B)  # the original row of each row still in the batch
        done = torch.zeros(B, dtype=torch.bool)
        out_tok = torch.full((B, N), self.eos_id, dtype=torch.long)
        out_lp = torch.zeros(B, N)
        length = torch.zeros(B, dtype=torch.long)  # tokens each row produced (its EOS included)
        for t in range(N):
            logp = F.log_softmax(logits / temperature if temperature > 0 else logits, dim=-1)
            tok = logp.argmax(-1) if temperature == 0 else torch.multinomial(logp.exp(), 1, generator=generator)[:, 0]
            live = rows[~done]
            out_tok[live, t] = tok[~done]
            out_lp[live, t] = logp.gather(1, tok[:, None])[:, 0][~done]
            length[live] += 1
            done |= (tok == self.eos_id) | (t + 1 >= limit)
            if bool(done.all()):
                break
            if int(done.sum()) * 4 >= len(rows):  # a quarter of the batch finished: compact it
                idx = torch.nonzero(~done)[:, 0]   # (not every step: the cache copy is what it costs)
                rows, tok, next_pos, limit, done = rows[idx], tok[idx], next_pos[idx], limit[idx], done[idx]
                valid = valid[idx]
                cache = [(K[idx], V[idx]) for K, V in cache]
            valid[:, P + t] = ~done  # finished rows feed padding that no later query attends
            mask = self._mask(valid[:, :P + t + 1], 1, P + t)
            logits = self.forward_rows(tok[:, None], next_pos[:, None], mask, cache, P + t)[:, -1]
            next_pos = next_pos + 1
        n = length.tolist()
        out = [row[:k] for row, k in zip(out_tok.tolist(), n)]
        logps = [row[:k] for row, k in zip(out_lp.tolist(), n)]
        if count:
            self.generated_tokens += sum(map(len, out))
        return out, logps

    def sample_sorted(self, prompts, limits, temperature=1.0, generator=None, count=True, chunk=64):
        """sample() over many rows: in chunks of rows with similar limits, results in the given order.

        One batch of thousands of rows is slower per token than chunks of 64 on this CPU (measured:
        3,000 against 4,300 tokens/s for 512 rows of mixed levels), as every decode step attends over
        the cache of the longest row; sorting by limit keeps each chunk's rows finishing together."""
        order = sorted(range(len(prompts)), key=lambda i: (limits[i], len(prompts[i])))
        out, logps = [None] * len(prompts), [None] * len(prompts)
        for s in range(0, len(order), chunk):
            part = order[s:s + chunk]
            ys, lps = self.sample([prompts[i] for i in part], [limits[i] for i in part], temperature, generator, count)
            for i, y, lp in zip(part, ys, lps):
                out[i], logps[i] = y, lp
        return out, logps

    # -- log-probs of given completions, for the loss -----------------------------------------------
    def completion_logprobs(self, prompts, completions):
        """Log-probs [B, C] of each completion's tokens after its prompt, and the mask [B, C] of real tokens."""
        B = len(prompts)
        P, C = max(map(len, prompts)), max(map(len, completions))
        ids = torch.full((B, P + C), self.eos_id, dtype=torch.long)
        valid = torch.zeros(B, P + C, dtype=torch.bool)
        for r, (p, y) in enumerate(zip(prompts, completions)):
            ids[r, P - len(p):P] = torch.tensor(p)
            ids[r, P:P + len(y)] = torch.tensor(y)
            valid[r, P - len(p):P + len(y)] = True
        pos = (valid.long().cumsum(1) - 1).clamp(min=0)
        logits = self.forward_rows(ids[:, :-1], pos[:, :-1], self._mask(valid[:, :-1], P + C - 1))
        logp = F.log_softmax(logits[:, P - 1:], dim=-1).gather(2, ids[:, P:, None])[..., 0]
        return logp, valid[:, P:]
