"""Stand-in for the verl recipe repository (verl-project/verl-recipe at
21892b9276936efab5375c3f6b8415e472ef7118), importable as ``recipe`` the way verl mounts it: a git
submodule at verl/recipe, which verl b178a3cd56f58b2d502255daba591e92833930a7 pins at exactly this
commit (the recipe's newer commits import verl names that b178a3c does not have)."""
