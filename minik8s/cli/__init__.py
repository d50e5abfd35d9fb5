"""minictl, the kubectl-shaped command line of minik8s (entry point: minik8s.cli.main:main)."""
