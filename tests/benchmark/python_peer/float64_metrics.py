"""How far float32 products through the BLAS and through oneDNN put the 14 metrics from a float64
forward of the same model: the peer's own forward (server.py), its products swapped.

    /usr/bin/python3 tests/benchmark/python_peer/float64_metrics.py MODEL_DIR IDS_JSON

IDS_JSON: lists of token ids (core_benchmark forward --ids-out); the first 16 are used. Prints, per
metric in docs/api.md's order, the largest difference relative to max(1, |float64 value|).
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server import Model, metrics  # noqa: E402
torch.set_num_threads(2)
prompts = json.load(open(sys.argv[2]))[:16]
m = Model(sys.argv[1])
W32 = dict(m.W)
res = {}
res['blas'] = metrics(m.last_states(prompts))
packed = {n: t.to_mkldnn() for n, t in W32.items() if n.endswith('proj.weight')}
def lin_dnn(x, name):
    y = torch._C._nn.mkldnn_linear(x.contiguous().to_mkldnn(), packed[name + '.weight']).to_dense()
    b = m.W.get(name + '.bias')
    return y if b is None else y + b
orig = m.lin
m.lin = lin_dnn
res['onednn'] = metrics(m.last_states(prompts))
m.lin = orig
m.W = {n: t.double() for n, t in W32.items()}
m.inv_freq = m.inv_freq.double()
ref = metrics(m.last_states(prompts))
def rel(a, b):
    return ((a - b).abs() / b.abs().clamp_min(1.0)).max(0).values
for name in ('blas', 'onednn'):
    r = rel(res[name], ref)
    print(name, 'vs float64: largest relative difference per metric', ' '.join('%.1e' % v for v in r.tolist()))
r = rel(res['onednn'], res['blas'])
print('onednn vs blas:', ' '.join('%.1e' % v for v in r.tolist()))
