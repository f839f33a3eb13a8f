"""Reproducible benchmarks: each module has a ``main()`` that prints a table and writes ``bench/results/<name>.json``.

Run them all with ``python -m bench`` (``make bench``), or some with ``python -m bench directory unlock``.
"""
