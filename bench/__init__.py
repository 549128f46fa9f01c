"""Plaza's benchmarks; see docs/benchmarks.md. Run all with ``python -m bench``."""
