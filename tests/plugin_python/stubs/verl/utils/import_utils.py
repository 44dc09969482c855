"""Stand-in for verl/utils/import_utils.py at volcengine/verl b178a3cd56f58b2d502255daba591e92833930a7.

``load_module(module_path, module_name=None)`` (line 87): "pkg://a.b" (or "pkg://a/b") is
``importlib.import_module("a.b")`` - a normal, cached import. Anything else ("file://x.py" or a
plain path) must exist (FileNotFoundError) and is executed as a fresh module named
``custom_module_<hash(abspath)>``; it is NOT put in sys.modules unless module_name is given, so
every load of a file path is a new module object with its own module-level state.
``load_extern_object(module_path, object_name)`` (line 184): getattr on that module, AttributeError
if missing. ``load_extern_type`` (line 234) is the deprecated alias (FutureWarning).
"""
import importlib
import importlib.util
import os
import sys
import warnings
from typing import Optional

PKG_PATH_PREFIX = "pkg://"
FILE_PATH_PREFIX = "file://"


def load_module(module_path: str, module_name: Optional[str] = None) -> object:
    if not module_path:
        return None
    if module_path.startswith(PKG_PATH_PREFIX):
        return importlib.import_module(module_path[len(PKG_PATH_PREFIX):].replace("/", "."))
    if module_path.startswith(FILE_PATH_PREFIX):
        module_path = module_path[len(FILE_PATH_PREFIX):]
    if not os.path.exists(module_path):
        raise FileNotFoundError(f"Custom module file not found: {module_path=}")
    spec = importlib.util.spec_from_file_location(
        module_name or f"custom_module_{hash(os.path.abspath(module_path))}", module_path)
    if spec is None or spec.loader is None:
        raise ImportError(f"Could not load module from {module_path=}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        raise RuntimeError(f"Error loading module from {module_path=}") from e
    if module_name is not None:
        if module_name in sys.modules and sys.modules[module_name] is not module:
            raise RuntimeError(f"Module name '{module_name}' already in `sys.modules` and points to a different module.")
        sys.modules[module_name] = module
    return module


def load_extern_object(module_path: str, object_name: str) -> object:
    module = load_module(module_path)
    if not hasattr(module, object_name):
        raise AttributeError(f"Object not found in module: {object_name=}, {module_path=}.")
    return getattr(module, object_name)


def load_class_from_fqn(fqn: str, description: str = "class") -> type:
    if "." not in fqn:
        raise ValueError(f"Invalid {description} '{fqn}'. Expected fully qualified class name.")
    module_path, class_name = fqn.rsplit(".", 1)
    return getattr(importlib.import_module(module_path), class_name)


def load_extern_type(file_path: str, type_name: str) -> type:
    """DEPRECATED. Directly use `load_extern_object` instead."""
    warnings.warn("Warning: Function 'verl.utils.import_utils.load_extern_type' is deprecated.",
                  category=FutureWarning, stacklevel=2)
    return load_extern_object(file_path, type_name)
