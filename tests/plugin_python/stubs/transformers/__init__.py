"""Stand-in for transformers: only what the TRL adapter imports (trainer_utils)."""
