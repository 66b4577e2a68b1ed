"""The scheduler's jobs, one module each."""
