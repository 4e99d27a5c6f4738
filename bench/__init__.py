"""Benchmarks and the load harness. Not tests: every figure is a ratio to a same-run baseline.

``bench`` may import ``server`` (``bench.serverproc`` starts real servers); nothing imports
``bench``. Load generators speak only the wire API, on 127.0.0.1, and every process a bench
starts it stops.
"""
