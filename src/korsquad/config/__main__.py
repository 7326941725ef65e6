"""`python -m korsquad.config` printed the flag table before the `korsquad` command: one line naming the command."""

import sys

print("error: python -m korsquad.config is now the command `korsquad flags` (or `python -m korsquad flags`)",
      file=sys.stderr)
sys.exit(2)
