"""Performance: budgets, latency statistics, load probes, the watch window and rollback rules."""
