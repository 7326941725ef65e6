"""Texts and span checks shared by the tests of tokenization and slow_alignment."""

import numpy as np
from conftest import FIXTURES
from tiny_tokenizers import squad_contexts

# Texts that exercise every path of the slow alignment: accents (composed and decomposed), CJK characters (each a
# word for BERT), an emoji and rare characters (unknown tokens, several in a row), control and zero-width
# characters the tokenizer drops, non-breaking and ideographic spaces, and Korean syllables.
TRICKY = [
    "Café Naïf serves crème brûlée; Zoë trained in Kyōto.",
    "Cafe\u0301 and nai\u0308ve written with combining marks, and Ångström.",
    "The calligrapher 王羲之 wrote 蘭亭集序 in 353 🖌 ✍ next to it.",
    "Control\x07char, zero\u200bwidth, no\u00a0break and ideographic\u3000space.",
    "ℌ𝔢𝔩𝔩𝔬 ⅔ ﬁne and ＦＵＬＬ-width ｔｅｘｔ.",
    "은하시의 달빛교는 1892년에 놓였다. 서울청량리경찰서는 호위 학생 5명과 함께",
    "Ends with an unknown 🖌",
    "",
]

ENGLISH_FIXTURES = [FIXTURES / "squad_tiny.json", FIXTURES / "squad_v1_tiny.json"]


def english_contexts():
    return [c for path in ENGLISH_FIXTURES if path.exists() for c in squad_contexts(path)]


def korean_contexts():
    return squad_contexts(FIXTURES / "korquad_tiny.json")


def assert_spans_sorted(starts, ends, text):
    assert np.all(np.diff(starts) >= 0) and np.all(np.diff(ends) >= 0)
    assert np.all(starts <= ends) and (len(ends) == 0 or (starts[0] >= 0 and ends[-1] <= len(text)))


def assert_no_surrounding_whitespace(starts, ends, text):
    padded = [text[s:e] for s, e in zip(starts, ends) if text[s:e] != text[s:e].strip()]
    assert not padded, padded[:5]
