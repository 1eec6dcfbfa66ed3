"""``python -m promptsearch``."""

import sys

from promptsearch.cli import main

sys.exit(main())
