"""Runnable examples. ``python -m examples`` runs the cluster demo."""
