"""Benchmarks for the performance targets of DESIGN §8. Run `make bench` or `python -m bench.<name>`."""
