#!/usr/bin/python3
"""Writes the small checkpoints the server and CLI tests run on.

    make_tiny_model.py OUTDIR [--bench | --bench-0.5b]

OUTDIR/tiny_qwen3: a random Qwen3 checkpoint (tests/reference/make_reference.py)
with a real byte-level BPE tokenizer.json (GPT-2 byte alphabet, a few merges,
ChatML special tokens) and a tokenizer_config.json with a ChatML chat template.
OUTDIR/tiny_qwen3_seed1: the same shape and tokenizer with other weights (for reloads).
OUTDIR/bad_*: broken copies that must fail at start-up with a message naming
the file and the tensor. With --bench, OUTDIR/bench_qwen3 instead: the same
tokenizer on a mid-size (~24M parameter) random Qwen3 for benchmarks; with --bench-0.5b,
OUTDIR/0.5b_qwen2: Qwen2.5-0.5B's shape (494M parameters, F32, 2 GB).
"""
import json
import os
import shutil
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, "..", "reference", "make_reference.py")

sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts", "embedded_model"))
import byte_bpe  # noqa: E402

MERGES = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("Ġ", "a"), ("e", "r"),
          ("o", "n"), ("Ġ", "s"), ("r", "e"), ("a", "t"), ("Ġ", "w"), ("Ġ", "+"),
          ("Ġ", "="), ("Ġ", "c"), ("Ġ", "i"), ("e", "n"), ("Ġ", "o"), ("i", "s"),
          ("Ġ", "f"), ("Ġ", "p")]

CHAT_TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
                 "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
                 "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def write_tokenizer(out):
    config = {"add_bos_token": False, "bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
              "model_max_length": 512, "tokenizer_class": "Qwen2Tokenizer", "chat_template": CHAT_TEMPLATE}
    return byte_bpe.write_tokenizer_files(out, MERGES, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], config)


def make_bench(out, arch="qwen3", size="bench"):
    model = os.path.join(out, f"{size}_{arch}")
    shutil.rmtree(model, ignore_errors=True)
    subprocess.run([sys.executable, REFERENCE, "--arch", arch, "--dtype", "f32", "--size", size,
                    "--no-reference", "--out", model], check=True, stdout=subprocess.DEVNULL)
    write_tokenizer(model)
    print(f"benchmark checkpoint written to {model}")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    if "--bench" in sys.argv[2:]:
        return make_bench(out)
    if "--bench-0.5b" in sys.argv[2:]:
        return make_bench(out, "qwen2", "0.5b")
    model = os.path.join(out, "tiny_qwen3")
    shutil.rmtree(model, ignore_errors=True)
    subprocess.run([sys.executable, REFERENCE, "--arch", "qwen3", "--dtype", "f32", "--out", model], check=True,
                   stdout=subprocess.DEVNULL)
    os.remove(os.path.join(model, "reference.safetensors"))
    with open(os.path.join(model, "config.json")) as f:
        config = json.load(f)
    n = write_tokenizer(model)
    assert n <= config["vocab_size"], (n, config["vocab_size"])

    # The same shape and tokenizer with other weights: what a training step gives a reload.
    other = os.path.join(out, "tiny_qwen3_seed1")
    shutil.rmtree(other, ignore_errors=True)
    subprocess.run([sys.executable, REFERENCE, "--arch", "qwen3", "--dtype", "f32", "--out", other, "--seed", "1",
                    "--no-reference"], check=True, stdout=subprocess.DEVNULL)
    write_tokenizer(other)

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

    # Token ids past the embedding table: the first prompt with one used to abort the server.
    path = broken("bad_vocab")
    with open(os.path.join(path, "tokenizer.json")) as f:
        tokenizer = json.load(f)
    start = max([t["id"] for t in tokenizer["added_tokens"]] + list(tokenizer["model"]["vocab"].values())) + 1
    for i in range(config["vocab_size"] - start + 1):
        tokenizer["added_tokens"].append({"id": start + i, "content": f"<|unused_{i}|>", "single_word": False,
                                          "lstrip": False, "rstrip": False, "normalized": False, "special": True})
    with open(os.path.join(path, "tokenizer.json"), "w") as f:
        json.dump(tokenizer, f)

    # One NaN weight: it used to be served as non-finite features.
    path = os.path.join(broken("bad_nan"), "model.safetensors")
    with open(path, "r+b") as f:
        header_len = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_len))
        start, _ = header["model.layers.0.mlp.up_proj.weight"]["data_offsets"]
        f.seek(8 + header_len + start)
        f.write(struct.pack("<f", float("nan")))
    print(f"tiny checkpoints written to {out}")


if __name__ == "__main__":
    main()
