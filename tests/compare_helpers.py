"""What tests/unit/analysis/test_compare.py and tests/e2e/test_compare.py share."""

import pytest

from korsquad.data.datasets import REGISTRY


stats = pytest.importorskip("scipy.stats")


def _data_name(metric):
    return next(name for name, spec in REGISTRY.items() if spec.metric.name == metric)

