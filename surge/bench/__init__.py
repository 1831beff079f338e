"""Benchmarks: each prints its figures and writes JSON under `results/bench/`."""
