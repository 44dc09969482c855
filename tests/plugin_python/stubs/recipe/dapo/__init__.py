"""Stand-in for dapo/ of verl-project/verl-recipe at 48ea0a797fa29867ea0ad92aff7d284eec7d4be3."""
