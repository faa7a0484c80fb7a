"""The gates: apply, paths, ruff, tests, commands. Everything here runs on a throwaway worktree of the PR head."""
