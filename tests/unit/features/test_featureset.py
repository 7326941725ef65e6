"""The FeatureSet container: saved columns load back or fail loudly, taking and slicing features, joining chunks."""

import io

import numpy as np
import pytest
from feature_helpers import SMALL

from korsquad.features.featureset import FeatureSet
from korsquad.features.windows import build_features


def test_arrays_round_trip_without_pickle_and_corruption_is_detected(fast, squad_tiny):
    features = build_features(squad_tiny, fast, SMALL, training=True)
    buffer = io.BytesIO()
    np.savez(buffer, **features.arrays())
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as stored:
        loaded = FeatureSet.from_arrays(dict(stored))
    for name, array in features.arrays().items():
        assert np.array_equal(getattr(loaded, name), array) and getattr(loaded, name).dtype == array.dtype
    broken = features.arrays()
    broken["input_ids"] = broken["input_ids"][:-5]
    with pytest.raises(ValueError):
        FeatureSet.from_arrays(broken)
    with pytest.raises(ValueError):
        FeatureSet.from_arrays({k: v for k, v in features.arrays().items() if k != "max_context"})


def test_take_and_select_examples(fast, squad_tiny):
    features = build_features(squad_tiny, fast, SMALL, training=True)
    assert features.num_tokens == len(features.input_ids) == int(features.lengths.sum())
    picked = features.take([1, 4, 5])
    for j, f in enumerate([1, 4, 5]):
        a, b = picked.feature(j), features.feature(f)
        assert a["input_ids"].tolist() == b["input_ids"].tolist() and a["cls_index"] == b["cls_index"]
    middle = features.select_examples(5, 9)
    alone = build_features(squad_tiny[5:9], fast, SMALL, training=True)
    for name, array in alone.arrays().items():
        assert np.array_equal(getattr(middle, name), array), name


def test_join_column_puts_chunks_back_together(fast, squad_tiny):
    """Chunks built over consecutive slices of examples join into the features of all of them."""
    whole = build_features(squad_tiny, fast, SMALL, training=True)
    bounds = [0, 3, 3, 7, len(squad_tiny)]  # an empty slice among them
    chunks = [build_features(squad_tiny[lo:hi], fast, SMALL, training=True) for lo, hi in zip(bounds, bounds[1:])]
    joined = FeatureSet.from_arrays({name: FeatureSet.join_column(name, [c.arrays()[name] for c in chunks], bounds[:-1])
                                     for name in FeatureSet.DTYPES})
    for name, array in whole.arrays().items():
        assert np.array_equal(getattr(joined, name), array) and getattr(joined, name).dtype == array.dtype, name
