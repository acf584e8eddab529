"""Data-quality gates and the sharing rules they are compiled from."""
