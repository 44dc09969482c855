"""Stand-in for omegaconf (what verl's config objects are): DictConfig, ListConfig, OmegaConf, open_dict.

A DictConfig here is a dict with attribute access and ``get``; a missing attribute raises
AttributeError (OmegaConf >= 2.1 raises ConfigAttributeError, an AttributeError subclass). Like a
real node, every nested DictConfig knows its parent: ``node._get_parent()`` / ``node._get_root()``
(real OmegaConf Node methods), so ``config.data._get_root()`` is the whole trainer config, as in
verl, where ``data_config`` is the ``data`` subtree of the resolved root config.
"""
import contextlib


class DictConfig(dict):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        object.__setattr__(self, "_parent", None)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError as e:
            raise AttributeError(name) from e

    def __setattr__(self, name, value):
        self[name] = _wrap(value, self)

    def __setitem__(self, key, value):
        super().__setitem__(key, _wrap(value, self))

    def __deepcopy__(self, memo):
        import copy

        return _wrap({k: copy.deepcopy(v, memo) for k, v in self.items()}, None)

    def _get_parent(self):
        return object.__getattribute__(self, "_parent")

    def _get_root(self):
        node = self
        while node._get_parent() is not None:
            node = node._get_parent()
        return node


class ListConfig(list):
    pass


def _wrap(value, parent=None):
    if isinstance(value, DictConfig):
        if parent is not None and value._get_parent() is None:
            object.__setattr__(value, "_parent", parent)
        return value
    if isinstance(value, dict):
        node = DictConfig()
        object.__setattr__(node, "_parent", parent)
        for k, v in value.items():
            dict.__setitem__(node, k, _wrap(v, node))
        return node
    if isinstance(value, (list, tuple)) and not isinstance(value, ListConfig):
        return ListConfig(_wrap(v, parent) for v in value)
    return value


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class OmegaConf:
    @staticmethod
    def create(value=None):
        return _wrap({} if value is None else value)

    @staticmethod
    def to_container(cfg, resolve=False):
        return _plain(cfg)

    @staticmethod
    def select(cfg, key, default=None):
        node = cfg
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    @staticmethod
    def set_struct(cfg, value):
        pass

    @staticmethod
    def resolve(cfg):
        pass


@contextlib.contextmanager
def open_dict(cfg):
    yield cfg
