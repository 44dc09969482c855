"""Byte-level BPE tokenizer.json files, in the format Hugging Face tokenizers writes.

GPT-2's byte alphabet, Qwen's pre-tokenizer split pattern (one digit per token, words with their
leading space), and merges given by the caller. Used by the embedded model's training script and by
the test checkpoint generators, so every tokenizer the project builds is the same kind of file.
"""
import json
import os

# The pattern Qwen's tokenizer.json uses (pre-tokenizer Split, Isolated).
SPLIT_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")


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


def merges_spelling(words):
    """Merges that build each word left to right ("Ġwrite": Ġ+w, Ġw+r, ...), in first-use order."""
    merges, seen = [], set()
    for word in words:
        for k in range(2, len(word) + 1):
            pair = (word[:k - 1], word[k - 1])
            if pair not in seen:
                seen.add(pair)
                merges.append(pair)
    return merges


def tokenizer_json(merges, specials):
    """The tokenizer.json document and its size (byte tokens, merged tokens, then specials)."""
    vocab = {c: i for i, c in enumerate(byte_alphabet()[b] for b in range(256))}
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    added = [{"id": len(vocab) + i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, s in enumerate(specials)]
    byte_level = {"add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    document = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": SPLIT_PATTERN}, "behavior": "Isolated", "invert": False},
            dict(type="ByteLevel", **byte_level)]},
        "post_processor": dict(type="ByteLevel", **byte_level),
        "decoder": dict(type="ByteLevel", **byte_level),
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [[a, b] for a, b in merges]},
    }
    return document, len(vocab) + len(added)


def write_tokenizer_files(out, merges, specials, tokenizer_config):
    """Writes tokenizer.json and tokenizer_config.json into `out`; returns the vocabulary size."""
    document, size = tokenizer_json(merges, specials)
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(document, f, ensure_ascii=False)
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_config, f, ensure_ascii=False, indent=1)
    return size
