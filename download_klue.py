#!/usr/bin/env python
"""Download KLUE-MRC into ./data/<data_name>/{train,dev}.json (no published checksum: a sidecar records the size and
sha256 at download time, so a later run recognizes a complete file).

python download_klue.py [--download_dir ./data] [--data_name klue_mrc] [--split dev] [--mirror URL]
"""

import sys

from korsquad.common.errors import exit_on_usage_error
from korsquad.data.download import run_cli


@exit_on_usage_error
def main(argv=None):
    return run_cli("klue", argv, prog="download_klue.py")


if __name__ == "__main__":
    sys.exit(main())
