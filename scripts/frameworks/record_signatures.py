#!/usr/bin/env python3
"""Records the signatures of a framework's functions, read from its real source, as a JSON table.

The adapter tests run against stand-ins of verl, TRL and OpenRLHF (those cannot be installed
here). This table is what keeps a stand-in honest: tests/plugin_python/test_signatures.py fails
when a stand-in's function no longer has the parameters the real one has at the recorded commit.

The source is read from a git directory (a mirror from the `fetch` tool, or any clone) at one
commit, with `git show`, and parsed with `ast`; nothing is imported, so the framework's own
dependencies are not needed.

    scripts/frameworks/record_signatures.py --git-dir DIR --commit C --name verl \
        --out tests/plugin_python/stubs/signatures/verl.json \
        verl/trainer/ppo/ray_trainer.py:RayPPOTrainer._get_gen_batch ...

Each spec is `path/in/repo.py:Qualified.name`, and its key in the table is `module:Qualified.name`
(the module path derived from the file path). A parameter is recorded as [name, kind, has_default]
with kind one of positional_only, positional_or_keyword, var_positional, keyword_only, var_keyword.
"""

import argparse
import ast
import json
import subprocess
import sys


def source_at(git_dir: str, commit: str, path: str) -> str:
    return subprocess.run(["git", "--git-dir", git_dir, "show", f"{commit}:{path}"], check=True,
                          capture_output=True, text=True).stdout


def find(tree: ast.AST, qualname: str) -> ast.AST:
    node = tree
    for part in qualname.split("."):
        matches = [n for n in ast.iter_child_nodes(node)
                   if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == part]
        if not matches:
            raise LookupError(f"{qualname}: no '{part}'")
        node = matches[-1]  # the last definition wins, as at import time
    return node


def parameters(fn: ast.AST) -> list:
    a = fn.args
    out = []
    positional = a.posonlyargs + a.args
    first_default = len(positional) - len(a.defaults)
    for i, arg in enumerate(positional):
        kind = "positional_only" if i < len(a.posonlyargs) else "positional_or_keyword"
        out.append([arg.arg, kind, i >= first_default])
    if a.vararg:
        out.append([a.vararg.arg, "var_positional", False])
    for arg, default in zip(a.kwonlyargs, a.kw_defaults):
        out.append([arg.arg, "keyword_only", default is not None])
    if a.kwarg:
        out.append([a.kwarg.arg, "var_keyword", False])
    return out


def record(git_dir: str, commit: str, specs: list) -> dict:
    table = {}
    trees = {}
    for spec in specs:
        path, qualname = spec.split(":", 1)
        if path not in trees:
            trees[path] = ast.parse(source_at(git_dir, commit, path), filename=path)
        node = find(trees[path], qualname)
        if isinstance(node, ast.ClassDef):
            init = [n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"]
            if not init:
                raise LookupError(f"{spec}: a class without its own __init__; name a function instead")
            node = init[-1]
        module = path[:-3].replace("/", ".")
        if module.endswith(".__init__"):
            module = module[: -len(".__init__")]
        table[f"{module}:{qualname}"] = {"file": path, "line": node.lineno, "parameters": parameters(node)}
    return table


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--git-dir", required=True)
    p.add_argument("--commit", required=True)
    p.add_argument("--name", required=True, help="the framework, e.g. verl")
    p.add_argument("--repository", default="", help="owner/name it was read from, for the record")
    p.add_argument("--out", required=True)
    p.add_argument("specs", nargs="+")
    args = p.parse_args(argv)
    commit = subprocess.run(["git", "--git-dir", args.git_dir, "rev-parse", args.commit], check=True,
                            capture_output=True, text=True).stdout.strip()
    table = {"framework": args.name, "repository": args.repository, "commit": commit,
             "signatures": record(args.git_dir, commit, args.specs)}
    with open(args.out, "w") as f:
        json.dump(table, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{args.out}: {len(table['signatures'])} signatures of {args.name} at {commit[:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
