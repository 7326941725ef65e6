"""`python -m korsquad COMMAND ...`: the `korsquad` command (korsquad.cli.commands)."""

import sys

from .cli.commands import main

sys.exit(main())
