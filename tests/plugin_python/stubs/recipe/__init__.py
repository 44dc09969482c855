"""Stand-in for the verl recipe repository (verl-project/verl-recipe at
48ea0a797fa29867ea0ad92aff7d284eec7d4be3), importable as ``recipe`` the way verl mounts it (git
submodule at verl/recipe; verl b178a3cd pins the submodule at 21892b9)."""
