"""The share of text a tokenizer cannot read: its unknown token and byte-fallback pieces, counted in characters."""

import numpy as np
import pytest

from korsquad.features.unknown_tokens import unknown_share, unknown_token_ids


def test_unknown_share_counts_the_visible_characters_inside_unknown_tokens():
    text = "ab  cdé fg"  # 7 visible characters
    # "ab", "cdé", "f", "g", "cd" (byte pieces overlap): unknown (0) "cdé" and "g", "cd" counted once
    ids = np.array([5, 0, 7, 0, 0])
    starts, ends = np.array([0, 4, 8, 9, 4]), np.array([2, 7, 9, 10, 6])
    assert unknown_share([text], [(ids, starts, ends)], {0}) == pytest.approx(4 / 7)
    assert unknown_share([text], [(ids, starts, ends)], {9}) == 0.0
    assert unknown_share([], [], {0}) == 0.0


def test_unknown_ids_are_the_unknown_token_and_byte_fallback_pieces():
    class Vocab:
        unk_token_id = 0

        def get_vocab(self):
            return {"<unk>": 0, "<0xEA>": 3, "<0x0a>": 4, "▁서울": 5, "<0xZZ>": 6}

    assert unknown_token_ids(Vocab()) == {0, 3, 4}
