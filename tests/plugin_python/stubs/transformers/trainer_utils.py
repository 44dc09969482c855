"""Stand-in for transformers/trainer_utils.py: checkpoints live in <output_dir>/checkpoint-<step>."""
PREFIX_CHECKPOINT_DIR = "checkpoint"
