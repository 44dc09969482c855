"""Stand-in for verl/utils/import_utils.py: ``load_extern_object(module_path, object_name)``.

Real behaviour: "pkg://a.b" imports module a.b; a file path loads the file as a module.
"""
import importlib
import importlib.util

PKG_PATH_PREFIX = "pkg://"
FILE_PATH_PREFIX = "file://"


def load_module(module_path, module_name=None):
    if module_path.startswith(PKG_PATH_PREFIX):
        return importlib.import_module(module_path[len(PKG_PATH_PREFIX):].replace("/", "."))
    if module_path.startswith(FILE_PATH_PREFIX):
        module_path = module_path[len(FILE_PATH_PREFIX):]
    spec = importlib.util.spec_from_file_location(module_name or "custom_module", module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_extern_object(module_path, object_name):
    module = load_module(module_path)
    if not hasattr(module, object_name):
        raise AttributeError(f"Object not found in module: {object_name=}, {module_path=}.")
    return getattr(module, object_name)
