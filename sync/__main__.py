"""``python -m sync``: the ``deltamesh`` command (see :mod:`sync._cli`)."""

import sys

from sync._cli import main

sys.exit(main())
