"""An offline-first terminal to-do list: ``python -m examples.notes`` (see its ``__main__``)."""
