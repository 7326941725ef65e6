#!/usr/bin/env python
"""Download KorQuAD into ./data/<data_name>/: 1.0 as {train,dev}.json (verified by size and sha256), 2.x as
folders {train,dev}/ of JSON parts extracted from the official zips (large: only when named with --data_name).

python download_korquad.py [--download_dir ./data] [--data_name korquad_v1.0 korquad_v2.1] [--split dev] [--mirror URL]
"""

import sys

from korsquad.common.errors import exit_on_usage_error
from korsquad.data.download import run_cli


@exit_on_usage_error
def main(argv=None):
    return run_cli("korquad", argv, prog="download_korquad.py")


if __name__ == "__main__":
    sys.exit(main())
