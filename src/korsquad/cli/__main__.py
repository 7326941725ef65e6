"""`python -m korsquad.cli`, the run's spelling before the `korsquad` command, keeps working: it is `korsquad run`."""

import sys

from .run import main

sys.exit(main())
