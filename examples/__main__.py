"""``python -m examples``: the runnable demo (two replicas of a cart converging over a lossy
channel; see :mod:`examples.two_replicas`)."""

from __future__ import annotations

from examples.two_replicas import main

raise SystemExit(main())
