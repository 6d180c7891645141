"""Benchmarks of the kit against bare-Python baselines (`make bench` writes BENCHMARKS.md)."""
