"""Stand-in for verl/workers at volcengine/verl b178a3cd56f58b2d502255daba591e92833930a7 (only reward_manager)."""
