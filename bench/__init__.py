"""Benchmarks and the load harness. Not tests: every figure is a ratio to a same-run baseline."""
