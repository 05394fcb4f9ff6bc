"""Benchmarks of cld against the bare mail pipeline on the same servers: `python -m bench all --quick`."""
