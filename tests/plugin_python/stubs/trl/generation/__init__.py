"""Stand-in for trl/generation/__init__.py (huggingface/trl at f2cd57710ae345ea6428ae95363267fcf38a3dc8)."""
