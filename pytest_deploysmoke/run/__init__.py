"""The run: the deploy session's hooks, launch and readiness, selection, gating and interruption."""
