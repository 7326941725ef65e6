#!/usr/bin/env python
"""Download SQuAD 1.1 / 2.0 into ./data/<data_name>/{train,dev}.json, verified by size and sha256.

python download_squad.py [--download_dir ./data] [--data_name squad_v1.1 squad_v2.0] [--split dev] [--mirror URL]
"""

import sys

from korsquad.common.errors import exit_on_usage_error
from korsquad.data.download import run_cli


@exit_on_usage_error
def main(argv=None):
    return run_cli("squad", argv, prog="download_squad.py")


if __name__ == "__main__":
    sys.exit(main())
