#!/usr/bin/python3
"""The linear layers of the benchmark models on this machine's libtorch: float32 through the BLAS
(what sparsegate's forward calls), float32 through oneDNN (libtorch's mkldnn tensors, the only way
libtorch 1.13 offers oneDNN for float32 products, the activations converted in and out on every call),
and bfloat16 (which libtorch sends to oneDNN itself). GFLOP/s, medians of 15 calls after 3 warm-up calls, in one process.

    onednn_linear.py [--tokens 2048] [--threads 2]

Python, not C++: a question about which kernels libtorch reaches, answered with the same libtorch
build the service links (Debian's 1.13), before any code is written for it.
"""
import argparse
import ctypes
import os
import statistics
import sys
import time

# sparsegate's allocator settings (model/cpu_allocator.h), as the Python peer sets them: without
# them every call's output is a fresh mmap, and its page faults decide some medians.
_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 30), "MALLOC_ARENA_MAX": "1"}
if any(os.environ.get(k) != v for k, v in _MALLOC.items()):
    os.execve(sys.executable, [sys.executable] + sys.argv, dict(os.environ, **_MALLOC))

import torch  # noqa: E402

# (model, input features, output features) of each linear layer: q, k+v, o, gate+up, down.
SHAPES = {
    "embedded (arith-3m)": (256, 768, 4, 2, 64),
    "24M bench Qwen3": (512, 1408, 8, 4, 64),
    "0.5B-shaped Qwen2": (896, 4864, 14, 2, 64),
}


def linears(hidden, intermediate, heads, kv_heads, head_dim):
    return [("q", hidden, heads * head_dim), ("k, v", hidden, kv_heads * head_dim), ("o", heads * head_dim, hidden),
            ("gate, up", hidden, intermediate), ("down", intermediate, hidden)]


def rate(flops, call, runs=15):
    for _ in range(3):
        call()
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return flops / statistics.median(seconds) / 1e9


def blas_name():
    try:
        openblas = ctypes.CDLL("libopenblas.so.0")
        openblas.openblas_get_corename.restype = ctypes.c_char_p
        return "OpenBLAS " + openblas.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return "unknown BLAS"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, {args.tokens} tokens, float32 BLAS: {blas_name()}, "
          f"oneDNN: {torch.backends.mkldnn.is_available()}")
    print("| model | layer | in x out | f32 BLAS | f32 oneDNN | bf16 | oneDNN / BLAS | bf16 / BLAS |")
    print("|---|---|---|---|---|---|---|---|")
    with torch.inference_mode():
        for model, shape in SHAPES.items():
            for layer, fan_in, fan_out in linears(*shape):
                x = torch.randn(args.tokens, fan_in)
                w = torch.randn(fan_out, fan_in)
                flops = 2 * args.tokens * fan_in * fan_out
                blas = rate(flops, lambda: torch.nn.functional.linear(x, w))
                w_onednn = w.to_mkldnn()
                onednn = rate(flops, lambda: torch._C._nn.mkldnn_linear(x.to_mkldnn(), w_onednn, None).to_dense())
                same = torch._C._nn.mkldnn_linear(x.to_mkldnn(), w_onednn, None).to_dense()
                reference = torch.nn.functional.linear(x, w)
                if (same - reference).abs().max() > 1e-4 * reference.abs().max():
                    raise SystemExit(f"{model} {layer}: oneDNN's float32 product differs from the BLAS's")
                xb, wb = x.bfloat16(), w.bfloat16()
                bf16 = rate(flops, lambda: torch.nn.functional.linear(xb, wb))
                print(f"| {model} | {layer} | {fan_in} x {fan_out} | {blas:.0f} | {onednn:.0f} | {bf16:.0f} | "
                      f"{onednn / blas:.2f} | {bf16 / blas:.2f} |")


if __name__ == "__main__":
    main()
