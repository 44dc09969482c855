#!/usr/bin/env python3
"""What refusing the worst bad inputs costs: wall time and peak memory, per case.

The cases are the expensive ones that issue 25's probe found (a 300 MB config.json, a safetensors
header of 100,000 tensors, a 50 MB JSONL line, a 60 MB prompt sent to the service); each is built
here, on a copy of the embedded model, and refused by the real `sparsegate` binary. A case passes
when the refusal is an error naming the problem; the time and the peak resident memory of the
process that refused it (wait4's rusage) are printed as a Markdown table. The service case reads
the server's own peak from /proc/PID/status (VmHWM) after the refusal.

    /usr/bin/python3 scripts/bad_input_costs.py [--sparsegate build/apps/cli/sparsegate]
"""
import argparse
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "models", "arith-3m")


def timed(command):
    """Runs `command`; returns (exit code, seconds, its peak RSS in MiB, output). The peak comes from
    wait4's rusage of that one child, so no GNU time is needed."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        out.seek(0)
        text = out.read().decode(errors="replace")
    return proc.returncode, seconds, usage.ru_maxrss / 1024, text


def model_copy(work, name):
    target = os.path.join(work, name)
    shutil.copytree(MODEL, target, ignore=shutil.ignore_patterns("demo", "signal", "*.svg", "*.md"))
    return target


def add_tensors(path, count):
    """The model's own weights plus `count` one-element f32 tensors, each a valid entry: only their
    number is wrong (config.json's model uses none of them)."""
    with open(path, "rb") as f:
        length = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(length))
        data = f.read()
    for i in range(count):
        header[f"extra.{i}.weight"] = {"dtype": "F32", "shape": [1], "data_offsets": [len(data) + 4 * i, len(data) + 4 * i + 4]}
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        f.write(data)
        f.write(b"\0" * (4 * count))
    return len(text)


def score_command(sparsegate, model, rows):
    return [sparsegate, "score", "--model", model, "--input", rows, "--output", rows + ".out"]


def varint(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def score_request(text):
    """ScoreRequest{prompts: [Prompt{text}]}, encoded by hand: no generated Python protos here."""
    prompt = b"\x0a" + varint(len(text)) + text
    return b"\x0a" + varint(len(prompt)) + prompt


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vm_hwm_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def huge_prompt_case(sparsegate, work, megabytes):
    import grpc  # Debian's python3-grpcio
    port = free_port()
    log = open(os.path.join(work, "serve.log"), "w")
    server = subprocess.Popen([sparsegate, "serve", "--model", MODEL, "--address", f"127.0.0.1:{port}",
                               "--max-message-bytes", str(128 << 20)], stdout=log, stderr=subprocess.STDOUT)
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", 128 << 20)])
        grpc.channel_ready_future(channel).result(timeout=60)
        score = channel.unary_unary("/sparsegate.v1.DifficultyService/Score")
        before = vm_hwm_mib(server.pid)
        request = score_request(b"12 + 34 = " * (megabytes * 100_000))
        started = time.monotonic()
        try:
            score(request, timeout=300)
            code, message = "OK", "accepted"
        except grpc.RpcError as e:
            code, message = e.code().name, e.details()
        seconds = time.monotonic() - started
        return code != "OK", seconds, vm_hwm_mib(server.pid), f"{code}: {message}", before
    finally:
        server.terminate()
        server.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sparsegate", default=os.path.join(ROOT, "build", "apps", "cli", "sparsegate"))
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as work:
        good_rows = os.path.join(work, "good.jsonl")
        with open(good_rows, "w") as f:
            f.write(json.dumps({"id": 0, "prompt": "12 + 34 ="}) + "\n")

        # The control: the same command on the unchanged model.
        code, seconds, peak, out = timed(score_command(args.sparsegate, MODEL, good_rows))
        rows.append(("control: the embedded model, one row", code == 0, seconds, peak, "scored" if code == 0 else out))

        # The large files are written in pieces: a child's peak memory counts what its parent held
        # when it forked, so this process must stay small.
        big_config = model_copy(work, "big_config")
        path = os.path.join(big_config, "config.json")
        with open(path) as f:
            config = json.load(f)
        with open(path, "w") as f:
            f.write(json.dumps(config)[:-1] + ', "padding": "')
            for _ in range(300):
                f.write("x" * (1 << 20))
            f.write('"}')
        code, seconds, peak, out = timed(score_command(args.sparsegate, big_config, good_rows))
        rows.append(("config.json of 300 MB", code != 0 and "over the limit" in out, seconds, peak, out))

        many = model_copy(work, "many_tensors")
        size = add_tensors(os.path.join(many, "model.safetensors"), 100_000)
        code, seconds, peak, out = timed(score_command(args.sparsegate, many, good_rows))
        rows.append((f"safetensors header of 100,000 tensors ({size / 1e6:.1f} MB)", code != 0, seconds, peak, out))

        long_line = os.path.join(work, "long_line.jsonl")
        with open(long_line, "w") as f:
            f.write('{"id": 0, "prompt": "')
            for _ in range(50):
                f.write("1 + 1 = " * (1 << 17))
            f.write('"}\n' + json.dumps({"id": 1, "prompt": "12 + 34 ="}) + "\n")
        code, seconds, peak, out = timed(score_command(args.sparsegate, MODEL, long_line))
        with open(long_line + ".out") as f:
            answered = [json.loads(line) for line in f]
        # Both rows answered: the long one as an error row naming its line, the good one scored.
        rows.append(("JSONL line of 50 MB, then a good row", "jsonl:1:" in out and len(answered) == 2, seconds, peak, out))

        refused, seconds, peak, out, before = huge_prompt_case(args.sparsegate, work, 60)
        rows.append((f"prompt of 60 MB sent to serve (server peak before: {before:.0f} MiB)", refused, seconds, peak, out))

    print("| bad input | refused as it should be | seconds | peak memory (MiB) | message |")
    print("|---|---|---|---|---|")
    for name, ok, seconds, peak, message in rows:
        first = next((l for l in message.splitlines() if "error" in l.lower() or "refus" in l.lower()
                      or "skip" in l.lower() or ":" in l), message.strip()[:160])
        print(f"| {name} | {'yes' if ok else 'NO'} | {seconds:.2f} | {peak:.0f} | {first.strip()[:200]} |")
    return 0 if all(r[1] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
