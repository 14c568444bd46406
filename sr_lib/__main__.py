"""``python -m sr_lib upscale|evaluate|models``: see :mod:`sr_lib.cli`."""

import sys

from sr_lib.cli import main

sys.exit(main())
