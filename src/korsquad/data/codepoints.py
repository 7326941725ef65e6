"""A text's code points as a numpy array, and which of them are whitespace (str.isspace), vectorized: what trimming
token spans, aligning slow tokenizers' tokens and reading HTML need of Unicode."""

import numpy as np


def codepoints(text):
    """The code points of `text`, a little-endian uint32 array (lone surrogates kept)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


# str.isspace() of every code point up to U+3000, the last whitespace code point.
_LAST_SPACE = 0x3000
_IS_SPACE = np.array([chr(c).isspace() for c in range(_LAST_SPACE + 1)], dtype=bool)


def whitespace_mask(codes):
    """str.isspace() of every code point of a uint32 array, vectorized."""
    mask = np.zeros(len(codes), dtype=bool)
    low = codes <= _LAST_SPACE
    mask[low] = _IS_SPACE[codes[low]]
    return mask
