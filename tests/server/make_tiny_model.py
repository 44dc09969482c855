#!/usr/bin/python3
"""Writes the small checkpoints the server and CLI tests run on.

    make_tiny_model.py OUTDIR [--bench]

OUTDIR/tiny_qwen3: a random Qwen3 checkpoint (tests/reference/make_reference.py)
with a real byte-level BPE tokenizer.json (GPT-2 byte alphabet, a few merges,
ChatML special tokens) and a tokenizer_config.json with a ChatML chat template.
OUTDIR/bad_*: broken copies that must fail at start-up with a message naming
the file and the tensor. With --bench, OUTDIR/bench_qwen3 instead: the same
tokenizer on a mid-size (~24M parameter) random Qwen3 for benchmarks.
"""
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, "..", "reference", "make_reference.py")

# The pattern Qwen's tokenizer.json uses (pre-tokenizer Split, Isolated).
SPLIT_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
                 r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

MERGES = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("Ġ", "a"), ("e", "r"),
          ("o", "n"), ("Ġ", "s"), ("r", "e"), ("a", "t"), ("Ġ", "w"), ("Ġ", "+"),
          ("Ġ", "="), ("Ġ", "c"), ("Ġ", "i"), ("e", "n"), ("Ġ", "o"), ("i", "s"),
          ("Ġ", "f"), ("Ġ", "p")]

CHAT_TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
                 "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
                 "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def byte_alphabet():
    """GPT-2's reversible byte -> printable character map."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


def write_tokenizer(out):
    vocab = {c: i for i, c in enumerate(byte_alphabet()[b] for b in range(256))}
    for a, b in MERGES:
        vocab[a + b] = len(vocab)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    added = []
    for s in specials:
        added.append({"id": len(vocab) + len(added), "content": s, "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": True})
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": SPLIT_PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [[a, b] for a, b in MERGES]},
    }
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)
    config = {"add_bos_token": False, "bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
              "model_max_length": 512, "tokenizer_class": "Qwen2Tokenizer", "chat_template": CHAT_TEMPLATE}
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False, indent=1)
    return len(vocab) + len(added)


def make_bench(out):
    model = os.path.join(out, "bench_qwen3")
    shutil.rmtree(model, ignore_errors=True)
    subprocess.run([sys.executable, REFERENCE, "--arch", "qwen3", "--dtype", "f32", "--size", "bench",
                    "--no-reference", "--out", model], check=True, stdout=subprocess.DEVNULL)
    write_tokenizer(model)
    print(f"benchmark checkpoint written to {model}")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    if "--bench" in sys.argv[2:]:
        return make_bench(out)
    model = os.path.join(out, "tiny_qwen3")
    shutil.rmtree(model, ignore_errors=True)
    subprocess.run([sys.executable, REFERENCE, "--arch", "qwen3", "--dtype", "f32", "--out", model], check=True,
                   stdout=subprocess.DEVNULL)
    os.remove(os.path.join(model, "reference.safetensors"))
    with open(os.path.join(model, "config.json")) as f:
        config = json.load(f)
    n = write_tokenizer(model)
    assert n <= config["vocab_size"], (n, config["vocab_size"])

    # Broken copies.
    def broken(name):
        path = os.path.join(out, name)
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(model, path)
        return path

    os.remove(os.path.join(broken("bad_no_config"), "config.json"))

    path = os.path.join(broken("bad_header"), "model.safetensors")
    with open(path, "r+b") as f:  # a header length far past the end of the file
        f.write((1 << 40).to_bytes(8, "little"))

    path = broken("bad_shape")
    config_bad = dict(config, intermediate_size=config["intermediate_size"] * 2)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config_bad, f, indent=1)
    print(f"tiny checkpoints written to {out}")


if __name__ == "__main__":
    main()
