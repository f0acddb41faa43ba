"""``python -m hvsim``: the hvsim command."""

import sys

from hvsim.cli import main

sys.exit(main())
