#!/usr/bin/env python
"""Fine-tune and evaluate question-answering models on KorQuAD and SQuAD: `python run_qa.py --help`."""

import sys

from korsquad.cli.run import main

if __name__ == "__main__":
    sys.exit(main())
