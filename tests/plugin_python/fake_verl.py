"""A SparsegateSampler whose gate is a PluginGate (no service), named in verl configs as
``data.sampler.class_path: pkg://fake_verl``, ``class_name: PluginGateSampler``."""
from fakes import PluginGate
from sparsegate.verl import SparsegateSampler


class PluginGateSampler(SparsegateSampler):
    def make_gate(self, options):
        return PluginGate(**options)
