#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/ (committed).

    python3 tests/fuzz/make_seeds.py            # from the repository root; needs nothing beyond Python

Seeds are small valid (and a few nearly valid) inputs of each format, so that the fuzzers start from
the shapes real files have: the embedded model's config and tokenizer, safetensors files and shard
indexes written by hand, ScoreRequests encoded by hand in protobuf's wire format (no protobuf
package here), dataset rows, and plugin checkpoints in the format trainer_plugin/state writes.
Files named regression_* are inputs that once crashed a target, kept (not written here) so that every
fuzzing run replays them first.
"""
import copy
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
MODEL = os.path.join(ROOT, "models", "arith-3m")
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, metadata=None):
    header, offset, buffer = {}, 0, b""
    for name, (dtype, shape, payload) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(payload)]}
        offset += len(payload)
        buffer += payload
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + buffer


def safetensors_seeds():
    f32 = lambda *v: struct.pack(f"<{len(v)}f", *v)
    write("safetensors_header_fuzzer", "two_f32", safetensors({"a": ("F32", [2, 2], f32(1, 2, 3, 4)),
                                                                  "b": ("F32", [1], f32(5))}))
    write("safetensors_header_fuzzer", "mixed_dtypes", safetensors(
        {"w": ("BF16", [3], b"\x80\x3f" * 3), "i": ("I64", [2], struct.pack("<2q", 7, -1)),
         "m": ("BOOL", [4], b"\x01\x00\x01\x01"), "h": ("F16", [2, 1], b"\x00\x3c\x00\x40")},
        metadata={"format": "pt"}))
    write("safetensors_header_fuzzer", "empty_tensor", safetensors({"e": ("F32", [0, 4], b"")}))
    write("safetensors_header_fuzzer", "no_tensors", safetensors({}, metadata={}))
    write("safetensors_header_fuzzer", "scalar", safetensors({"s": ("F64", [], struct.pack("<d", 1.5))}))


def index_seeds():
    shards = {"model.embed_tokens.weight": "model-00001-of-00002.safetensors",
              "model.norm.weight": "model-00002-of-00002.safetensors"}
    write("shard_index_fuzzer", "two_shards", json.dumps({"metadata": {"total_size": 1056}, "weight_map": shards}))
    write("shard_index_fuzzer", "one_shard", json.dumps({"weight_map": {"model.norm.weight": shards["model.norm.weight"]}}))
    write("shard_index_fuzzer", "missing_tensor", json.dumps({"weight_map": dict(shards, **{"lm_head.weight": shards["model.norm.weight"]})}))


def config_seeds():
    with open(os.path.join(MODEL, "config.json")) as f:
        qwen2 = json.load(f)
    write("model_config_fuzzer", "qwen2_embedded", json.dumps(qwen2, indent=1))
    qwen3 = dict(qwen2, architectures=["Qwen3ForCausalLM"], model_type="qwen3", head_dim=64)
    write("model_config_fuzzer", "qwen3", json.dumps(qwen3))
    llama = dict(qwen2, architectures=["LlamaForCausalLM"], model_type="llama", rope_theta=500000.0,
                 rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                               "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})
    write("model_config_fuzzer", "llama3_1", json.dumps(llama))
    mistral = dict(qwen2, architectures=["MistralForCausalLM"], model_type="mistral", sliding_window=4096)
    write("model_config_fuzzer", "mistral", json.dumps(mistral))


def tokenizer_seeds():
    with open(os.path.join(MODEL, "tokenizer.json")) as f:
        base = json.load(f)
    write("tokenizer_json_fuzzer", "embedded_qwen2_style", json.dumps(base))
    bos = copy.deepcopy(base)
    bos["post_processor"] = {"type": "TemplateProcessing",
                             "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}},
                                        {"Sequence": {"id": "A", "type_id": 0}}],
                             "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                             "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [276],
                                                                  "tokens": ["<|endoftext|>"]}}}
    write("tokenizer_json_fuzzer", "template_processing", json.dumps(bos))
    bare = copy.deepcopy(base)
    bare["normalizer"] = None
    bare["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    write("tokenizer_json_fuzzer", "byte_level_only", json.dumps(bare))


def tokenize_seeds():
    with open(os.path.join(ROOT, "tests", "tokenizer_parity", "corpus.jsonl")) as f:
        texts = [json.loads(line) for line in f if line.strip()]
    for i, text in enumerate(texts[:40]):
        write("tokenize_fuzzer", f"text{i:02d}", bytes([i % 4 + (8 if i % 3 == 0 else 0)]) + text.encode())
    write("tokenize_fuzzer", "invalid_utf8", b"\x01Q: 1 + \xff\xfe = ?")
    write("tokenize_fuzzer", "special_in_text", b"\x00<|endoftext|>Q: 2 + 2 = ?<|endoftext|>")


def varint(n):
    n &= (1 << 64) - 1
    out = b""
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def field(number, wire, payload):
    key = varint(number << 3 | wire)
    return key + (varint(payload) if wire == 0 else varint(len(payload)) + payload)


def packed(number, values):
    return field(number, 2, b"".join(varint(v) for v in values))


def prompt(text=None, ids=None, id_=None, chat=False):
    out = b""
    if text is not None:
        out += field(1, 2, text.encode())
    if ids is not None:
        out += field(2, 2, packed(1, ids))
    if id_ is not None:
        out += field(3, 2, id_.encode())
    if chat:
        out += field(4, 0, 1)
    return out


def options(layers=(), poolings=(), hidden=False, truncation=0, channels=(), outliers=False):
    out = b""
    if layers:
        out += packed(1, layers)
    if poolings:
        out += packed(2, poolings)
    if hidden:
        out += field(3, 0, 1)
    if truncation:
        out += field(4, 0, truncation)
    if channels:
        out += packed(5, channels)
    if outliers:
        out += field(6, 0, 1)
    return out


def request_seeds():
    seeds = {
        "one_text": field(1, 2, prompt("Q: 12 + 7 = ?")),
        "ids_and_id": field(1, 2, prompt(ids=[5, 17, 40, 3], id_="p1")) + field(3, 2, b"req-1"),
        "all_options": field(1, 2, prompt("Q: 3 * 4 = ?")) + field(1, 2, prompt("What is 9 - 2?", chat=True)) +
                       field(2, 2, options(layers=[-1, 0, 2], poolings=[1, 2], hidden=True, truncation=1,
                                           channels=[0, 7, 255], outliers=True)),
        "negative_layer": field(1, 2, prompt("x")) + field(2, 2, options(layers=[-5])),
        "big_id": field(1, 2, prompt(ids=[4294967301])),
        "both_text_and_ids": field(1, 2, prompt("hi", ids=[1])),
        "empty_prompt": field(1, 2, b""),
    }
    for name, data in seeds.items():
        write("request_fuzzer", name, data)


def jsonl_seeds():
    rows = [{"id": "add-1", "prompt": "Q: 1 + 2 = ?", "solution": "3"},
            {"id": "mul-2", "prompt": "Q: 6 * 7 = ?", "solution": "42", "weight": 1.5}]
    write("jsonl_rows_fuzzer", "good", "".join(json.dumps(r) + "\n" for r in rows))
    write("jsonl_rows_fuzzer", "mixed", json.dumps(rows[0]) + "\n\n{\"id\": \"broken\", \"prompt\": \n[1, 2]\n" +
          '{"id": "x", "prompt": 42}\n' + '{"id": "u", "prompt": "caf\\u00e9 \\ud83d\\ude00"}\r\n')
    write("jsonl_rows_fuzzer", "no_newline_at_end", json.dumps(rows[1]))


def checkpoint_seeds():
    """Checkpoints as the Python module saves them, when it is built (build/python)."""
    import sys
    sys.path.insert(0, os.path.join(ROOT, "build", "python"))
    try:
        import sparsegate
    except ImportError:
        print("make_seeds: build/python has no sparsegate module; plugin checkpoint seeds not rewritten")
        return
    import tempfile
    schema = sparsegate.FeatureSchema.for_feature_sets(["layer-1/last_token"])
    with tempfile.TemporaryDirectory() as tmp:
        fresh = sparsegate.TrainerPlugin.create(schema)
        fresh.save(os.path.join(tmp, "fresh.json"))
        trained = sparsegate.TrainerPlugin.create(schema, sparsegate.PluginConfig(min_training_groups=2, min_holdout_groups=1))
        for step in range(6):
            prompts = [{"id": f"q{i}", "text": f"Q: {i} + {step} = ?", "reference": "It is. The answer."}
                       for i in range(6)]
            decisions = trained.decide(prompts, [None] * len(prompts))
            for i, d in enumerate(decisions):
                trained.observe(d.prompt_id, [float((i + step) % 2), 0.0, 1.0, 0.0])
        trained.save(os.path.join(tmp, "trained.json"))
        for name in ("fresh", "trained"):
            with open(os.path.join(tmp, f"{name}.json"), "rb") as f:
                saved = f.read()
            # The first byte is the harness's: even, the file as it is; odd, re-sealed after mutation.
            write("plugin_checkpoint_fuzzer", name, b"\x00" + saved)
            write("plugin_checkpoint_fuzzer", name + "_resealed", b"\x01" + saved)


def serve_flag_seeds():
    """`serve` arguments after --model DIR, NUL-separated: each numeric flag at a bound, and a few mixes."""
    write("serve_flags_fuzzer", "token_budget", b"--token-budget\x008192")
    write("serve_flags_fuzzer", "outlier_ratio", b"--outlier-ratio\x002.5")
    write("serve_flags_fuzzer", "queue", b"--max-queued-prompts\x0032\x00--max-prompts-per-request\x008")
    write("serve_flags_fuzzer", "bytes", b"--max-queued-bytes=1048576\x00--max-prompt-bytes\x000")
    write("serve_flags_fuzzer", "reload", b"--allow-reload\x00--reload-root\x00/tmp\x00--drain-timeout\x001.5")
    write("serve_flags_fuzzer", "negative", b"--cache-bytes\x00-5")


def reload_path_seeds():
    """Reload paths; an odd first byte puts the rest under the fuzzer's reload root."""
    for name, path in [("model", b"\x01model"), ("dotdot", b"\x01model/../../etc"), ("loop", b"\x01loop"),
                       ("out", b"\x01out/etc"), ("leaks", b"\x01leaks"), ("fifo", b"\x01fifo"),
                       ("absolute", b"\x00/etc/passwd"), ("nul", b"\x01mo\x00del")]:
        write("reload_path_fuzzer", name, path)


if __name__ == "__main__":
    serve_flag_seeds()
    reload_path_seeds()
    safetensors_seeds()
    index_seeds()
    config_seeds()
    tokenizer_seeds()
    tokenize_seeds()
    request_seeds()
    jsonl_seeds()
    checkpoint_seeds()
