"""Stand-in for dapo/ of verl-project/verl-recipe at 21892b9276936efab5375c3f6b8415e472ef7118."""
