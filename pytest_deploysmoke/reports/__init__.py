"""Report writers: each renders what the run measured, with nothing secret in it."""
