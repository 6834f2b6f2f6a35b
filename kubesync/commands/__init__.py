"""One module per subcommand, each `run(args) -> int` (the exit code)."""
