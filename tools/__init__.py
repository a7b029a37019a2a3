"""Developer tools behind tasks.py: the throwaway PostgreSQL and Redis servers a run needs."""
