"""Benchmarks, their peers (a naive server, TorchServe) and load generators: tools on top of the project, not
installed with it. Run from the repository's root: ``python -m bench --help``."""
