"""The fleet benchmark: `make bench` (python -m benchmarks). See README.md, "Performance"."""
