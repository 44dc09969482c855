#!/usr/bin/env python3
"""Writes tests/plugin_python/REAL_FRAMEWORKS.md from the JSON report of a run_real.sh run: per
test, its result against the real framework source and the real functions it executed (traced
with sys.setprofile, restricted to the framework trees). Tests in files that did not import are
listed from the file's ast with the import error."""
import argparse
import ast
import collections
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTS = os.path.join(REPO, "tests", "plugin_python")
sys.path.insert(0, TESTS)
import real_frameworks  # noqa: E402  (the lists of fakes and placeholders)


def test_names(path):
    tree = ast.parse(open(path).read())
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test")]


def cell(text, limit=300):
    text = " ".join(str(text).split()).replace("|", "\\|")
    text = text.replace(REPO + "/", "").replace("/tmp/frameworks/", "")
    return text if len(text) <= limit else text[:limit] + "…"


def framework_of(key):
    path = key.split(":")[0]
    return path.split(os.sep)[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("report")
    parser.add_argument("table")
    parser.add_argument("--commits", nargs="*", default=[])
    args = parser.parse_args()
    report = json.load(open(args.report))
    tests = report["tests"]
    rows = []
    for name in sorted(os.listdir(TESTS)):
        if not (name.startswith("test_") and name.endswith(".py")):
            continue
        nodeid = f"tests/plugin_python/{name}"
        error = report["collect_errors"].get(nodeid)
        ran = {k: v for k, v in tests.items() if k.startswith(nodeid + "::")}
        if error or not ran:
            for test in test_names(os.path.join(TESTS, name)):
                rows.append((f"{name}::{test}", "not runnable", error or "not collected", {}, []))
            continue
        for nodeid_, entry in sorted(ran.items()):
            outcome = entry.get("outcome", "?")
            label = {"passed": "pass", "failed": "fail", "skipped": "skipped"}.get(outcome, outcome)
            if outcome == "failed" and entry.get("placeholders_called"):
                label = "not runnable"
            rows.append((nodeid_.split("/")[-1], label, entry.get("message", ""), entry.get("calls", {}),
                         entry.get("placeholders_called", [])))

    counts = collections.Counter(r[1] for r in rows)
    with_real = [r for r in rows if r[3]]
    by_framework = collections.Counter(f for r in with_real for f in {framework_of(k) for k in r[3]})
    out = ["# The adapter tests against the real frameworks", "",
           "Written by `scripts/frameworks/run_real.sh` (see `stubs/README.md`, \"Against the real frameworks\");",
           "do not edit by hand. Commits: " + ", ".join(f"{c.split('=')[0]} `{c.split('=')[1]}`" for c in args.commits)
           + ". Framework roots: " + ", ".join(f"`{cell(r)}`" for r in report["roots"]) + ".", "",
           f"**{len(rows)} tests**: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
           + f". {len(with_real)} executed real framework code ("
           + ", ".join(f"{k}: {v}" for k, v in sorted(by_framework.items())) + ").", "",
           "Result: *pass* / *fail* (the assertion or error, file:line) / *not runnable* (the test file does not",
           "import against the real code, or the test reached a placeholder for something that cannot run here) /",
           "*skipped*. \"Real functions\" are the functions and methods in the framework trees the test called",
           "(call counts in parentheses), traced with `sys.setprofile` over all threads.", "",
           "| Test | Result | Error / reason | Real functions executed |", "|---|---|---|---|"]
    for test, label, message, calls, called in rows:
        funcs = ", ".join(f"`{k}` ({v})" for k, v in sorted(calls.items()))
        reason = message
        if called:
            reason = f"placeholder called: {', '.join(called)}; " + message
        out.append(f"| `{test}` | {label} | {cell(reason)} | {funcs or '—'} |")
    used = set(report.get("stand_ins_used", real_frameworks.STAND_INS))
    out += ["", "## What was not real", "",
            "Stand-ins from `stubs/` imported in this run (each used only where no real package of the name is "
            "importable):", ""]
    out += [f"- `{k}`: {v}" for k, v in real_frameworks.STAND_INS.items() if k in used]
    fakes = report.get("fakes_used", sorted(real_frameworks.REAL_FAKES_WHY))
    out += ["", "Fakes in `tests/plugin_python/real_fakes/` imported in this run:", ""]
    out += [f"- `{k}`: {real_frameworks.REAL_FAKES_WHY.get(k, 'see its docstring')}" for k in fakes]
    out += ["", "Test doubles inside the tests that run the real code (`test_real_frameworks.py`, `test_trl.py`, `test_verl.py`), "
            "each in place of what needs a GPU, a cluster, a model's weights or a package that is not installed:", ""]
    out += [f"- {k}: {v}" for k, v in real_frameworks.TEST_DOUBLES.items()]
    out += ["", "Environment variables set for the run (where not already set):", ""]
    out += [f"- `{k}`: {v}" for k, v in real_frameworks.ENVIRONMENT.items()]
    out += ["", "Real third-party packages (Debian) imported in this run: "
            + ", ".join(f"`{k}` {v} (`{real_frameworks.DEBIAN[k]}`)" for k, v in sorted(report.get("third_party", {}).items()))
            + ".", "",
            "torch here is 1.13; shims for the torch 2 names the frameworks use:", ""]
    out += [f"- `{k}`: {v}" for k, v in real_frameworks.TORCH_SHIMS.items()]
    out += ["", "Placeholders touched in this run (imported or named; each raises when called):", "",
            cell(", ".join(f"`{p}`" for p in report["placeholders_touched"]), 6000), "",
            f"Real framework modules imported in this run: {len(report['modules'])}.", ""]
    with open(args.table, "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
