"""`python -m sysgate`."""

import sys

from sysgate.cli import main

sys.exit(main())
