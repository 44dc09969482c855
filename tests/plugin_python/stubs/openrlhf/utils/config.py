"""Stand-in for openrlhf/utils/config.py at OpenRLHF 3c3be6234e0cb353e76bb8019947db9dfe99fca7.

``hierarchize(args)`` turns the dotted dests argparse makes (``"rollout.batch_size"``) into
nested namespaces (``args.rollout.batch_size``); dest names without a dot stay on top.
"""
from types import SimpleNamespace


def hierarchize(args):
    tree = {}
    for dest, value in vars(args).items():
        *path, leaf = dest.split(".")
        node = tree
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = value

    def to_namespace(node):
        return SimpleNamespace(**{k: to_namespace(v) for k, v in node.items()}) if isinstance(node, dict) else node

    return to_namespace(tree)
