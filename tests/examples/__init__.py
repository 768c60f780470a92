"""Tests of the runnable examples (the cart service, its page, the notes app)."""
