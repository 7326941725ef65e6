"""Code points of a text and its whitespace, vectorized: the same answers as Python's own str methods."""

import sys

import numpy as np

from korsquad.data.codepoints import codepoints, whitespace_mask


def test_codepoints_are_the_ords_of_every_character_even_outside_the_bmp_and_lone_surrogates():
    text = "a 한\u00a0𝓐🖌\ud800z"
    assert codepoints(text).tolist() == [ord(c) for c in text]
    assert codepoints("").tolist() == []


def test_whitespace_mask_is_str_isspace_for_every_code_point():
    codes = np.arange(sys.maxunicode + 1, dtype=np.uint32)
    expected = np.array([chr(c).isspace() for c in range(sys.maxunicode + 1)], dtype=bool)
    assert np.array_equal(whitespace_mask(codes), expected)
    assert whitespace_mask(codepoints(" \t\u3000x\u2028")).tolist() == [True, True, True, False, True]
