"""Safetensors checkpoints in Python: a small writer and reader, and a model directory's weights
(one file or the sharded set an index names). Used by the embedded model's training, the RL
testbed's policy, and the tests' independent reference model. Needs torch and numpy.
"""
import json
import os
import struct
import sys

import numpy as np
import torch

assert sys.byteorder == "little", "safetensors data is little-endian"

# ----------------------------------------------------------------------------
# safetensors: our own small writer / reader
# ----------------------------------------------------------------------------
# On disk: u64 little-endian header length N, N bytes of JSON header (padded
# with spaces so the data starts 8-byte aligned), then the raw little-endian
# tensor bytes, packed contiguously in header order.

_ST_DTYPES = {  # torch dtype -> (safetensors name, bytes per element)
    torch.float32: ("F32", 4),
    torch.bfloat16: ("BF16", 2),
    torch.float16: ("F16", 2),
    torch.int64: ("I64", 8),
}
_ST_FROM_NAME = {name: dt for dt, (name, _) in _ST_DTYPES.items()}


def _tensor_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:  # numpy has no bf16: reinterpret the bits
        t = t.view(torch.int16)
    return t.numpy().tobytes()  # host order, asserted little-endian at import


def write_safetensors(path, tensors):
    """tensors: list of (name, torch.Tensor) in the order they are packed."""
    header = {"__metadata__": {"format": "pt"}}
    blobs, offset = [], 0
    for name, t in tensors:
        data = _tensor_bytes(t)
        header[name] = {
            "dtype": _ST_DTYPES[t.dtype][0],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * (-len(hjson) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)
    return offset  # bytes of tensor data


def read_safetensors(path):
    """Returns {name: torch.Tensor} with the stored dtype."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = _ST_FROM_NAME[info["dtype"]]
        b, e = info["data_offsets"]
        buf = raw[base + b: base + e]
        if dt == torch.bfloat16:
            arr = np.frombuffer(buf, dtype="<i2").copy()
            t = torch.from_numpy(arr).view(torch.bfloat16)
        else:
            np_dt = {torch.float32: "<f4", torch.float16: "<f2", torch.int64: "<i8"}[dt]
            t = torch.from_numpy(np.frombuffer(buf, dtype=np_dt).copy())
        out[name] = t.reshape(info["shape"])
    return out


def read_checkpoint(model_dir):
    """Reads model.safetensors or the sharded set named by the index file."""
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if not os.path.exists(index):
        return read_safetensors(os.path.join(model_dir, "model.safetensors"))
    with open(index) as f:
        weight_map = json.load(f)["weight_map"]
    out = {}
    for shard in sorted(set(weight_map.values())):
        part = read_safetensors(os.path.join(model_dir, shard))
        for name, t in part.items():
            assert weight_map[name] == shard, name
            out[name] = t
    assert set(out) == set(weight_map)
    return out
