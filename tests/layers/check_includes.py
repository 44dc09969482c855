#!/usr/bin/python3
"""Every #include of a project header follows the layer rule of cmake/Layers.cmake.

The build writes layers.json: the layer of each folder that holds a library, and which layers
each may use. A source file belongs to the deepest declared folder above it; an included
"a/b/c.h" belongs to the folder of that path ("sparsegate/v1/..." is the generated proto). Prints
every violation as FILE:LINE and exits 1 if there is one.

    check_includes.py SOURCE_ROOT BUILD/layers.json
"""
import json
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def folder_layer(path, folders):
    """The layer of the deepest declared folder holding `path` (relative to the root), or None."""
    best = None
    for folder, layer in folders.items():
        if path == folder or path.startswith(folder + "/"):
            if best is None or len(folder) > len(best[0]):
                best = (folder, layer)
    return best[1] if best else None


def main():
    root, layers_json = sys.argv[1], sys.argv[2]
    with open(layers_json) as f:
        layers = json.load(f)
    folders, allows = layers["folders"], layers["allows"]
    violations, checked = [], 0
    for folder in folders:
        for dirpath, _, names in os.walk(os.path.join(root, folder)):
            for name in names:
                if not name.endswith((".h", ".cc")):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                own = folder_layer(rel, folders)
                with open(os.path.join(root, rel), encoding="utf-8") as f:
                    for number, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = m.group(1)
                        layer = "proto" if target.startswith("sparsegate/v1/") else folder_layer(target, folders)
                        if layer is None:
                            continue  # another project's header, or a file outside every layer
                        checked += 1
                        if layer not in allows[own]:
                            violations.append(f"{rel}:{number}: {own} includes {target} ({layer}); "
                                              f"{own} may use only {', '.join(allows[own])}")
    print("\n".join(violations) if violations else f"layers: {checked} project includes follow the rule")
    return 1 if violations or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
