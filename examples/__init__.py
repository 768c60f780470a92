"""Runnable examples: the shopping-cart service (``python -m examples.cart demo``, the main job)
and the offline-first notes app (``python -m examples.notes``)."""
