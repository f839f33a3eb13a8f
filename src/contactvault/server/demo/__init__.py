"""Synthetic data and provisioning for demos, the CLI's ``demo``/``demo-serve`` and the benchmarks.

Uses services, db and domain; only entrypoints (``cli/``) and ``bench/`` import it.
"""
