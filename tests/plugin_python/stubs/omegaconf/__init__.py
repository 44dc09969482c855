"""Stand-in for omegaconf (what verl's config objects are): DictConfig, OmegaConf.create.

A DictConfig here is a dict with attribute access and ``get``, which is all the adapters use.
"""


class DictConfig(dict):
    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError as e:
            raise AttributeError(name) from e

    def __setattr__(self, name, value):
        self[name] = value


def _wrap(value):
    if isinstance(value, dict):
        return DictConfig({k: _wrap(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


class OmegaConf:
    @staticmethod
    def create(value):
        return _wrap(value)
