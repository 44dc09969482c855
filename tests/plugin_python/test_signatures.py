"""The framework stand-ins against the real frameworks' signatures, recorded from their source.

stubs/signatures/<framework>.json is written by scripts/frameworks/record_signatures.py from the
real source at one commit (see stubs/README.md for the commands). Every function it lists must
exist in the stand-in with the same parameters: names, kinds and which have defaults. A stand-in
that drifts from the framework it claims to mirror fails here, and so does one whose files do not
name the commit they were read at.
"""
import importlib
import inspect
import json
import os
import pathlib

import pytest

STUBS = pathlib.Path(__file__).parent / "stubs"
TABLES = sorted((STUBS / "signatures").glob("*.json"))

_KINDS = {
    inspect.Parameter.POSITIONAL_ONLY: "positional_only",
    inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional_or_keyword",
    inspect.Parameter.VAR_POSITIONAL: "var_positional",
    inspect.Parameter.KEYWORD_ONLY: "keyword_only",
    inspect.Parameter.VAR_KEYWORD: "var_keyword",
}


def _entries():
    for path in TABLES:
        table = json.loads(path.read_text())
        for key, recorded in sorted(table["signatures"].items()):
            yield pytest.param(table, key, recorded, id=f"{table['framework']}:{key}")


def _resolve(key):
    module_name, qualname = key.split(":", 1)
    obj = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = inspect.getattr_static(obj, part) if inspect.isclass(obj) else getattr(obj, part)
        if isinstance(obj, (staticmethod, classmethod)):
            obj = obj.__func__
    return obj.__init__ if inspect.isclass(obj) else obj


def test_every_framework_has_a_table():
    assert {p.stem for p in TABLES} >= {"verl", "trl", "openrlhf"}, TABLES


@pytest.mark.parametrize("table,key,recorded", list(_entries()))
def test_stand_in_matches_the_real_signature(table, key, recorded):
    parameters = [[p.name, _KINDS[p.kind], p.default is not inspect.Parameter.empty]
                  for p in inspect.signature(_resolve(key)).parameters.values()]
    assert parameters == recorded["parameters"], (
        f"{key} in the stand-in differs from {table['repository']}@{table['commit'][:12]} "
        f"{recorded['file']}:{recorded['line']}")


@pytest.mark.parametrize("path", TABLES, ids=[p.stem for p in TABLES])
def test_stand_in_files_name_the_commit_they_mirror(path):
    table = json.loads(path.read_text())
    modules = {key.split(":", 1)[0] for key in table["signatures"]}
    for module_name in sorted(modules):
        source = inspect.getsourcefile(importlib.import_module(module_name))
        assert os.path.realpath(source).startswith(os.path.realpath(STUBS)), f"{module_name} is not a stand-in"
        text = pathlib.Path(source).read_text()
        assert table["commit"] in text, f"{source} does not name {table['framework']} commit {table['commit']}"
