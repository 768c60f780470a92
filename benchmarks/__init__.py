"""Benchmarks: ``python -m benchmarks.NAME`` prints a table, writes ``results/NAME.json``.

They are experiments, not tests: the test suite asserts behaviour, these report figures. See
:mod:`benchmarks._harness` for the conventions every benchmark follows.
"""
