"""Benchmarks for minik8s. `python -m benchmarks.api [--quick]` measures the API server against
same-run baselines; see benchmarks/README.md."""
