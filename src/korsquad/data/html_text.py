"""Readable text from a KorQuAD 2.x HTML context, with a character map back into the HTML.

KorQuAD 2.x contexts are whole Wikipedia pages with bare tags; answers are often table cells, rows or lists. The
model reads the text view; labels and predictions travel through `offsets` so that what the metric finally sees is
a span of the original HTML.

The text view:
- tags are dropped; block elements (p, div, headings, li, tr, table, br, ...) become a line break, table cells
  (th, td) a tab, so neighbouring cells and items never merge into one word;
- every whitespace run (including the separators above) collapses to one character: a line break if the run holds
  one, else a tab if it holds a cell boundary, else a space; leading and trailing whitespace is dropped;
- entities are decoded (`&amp;` -> `&`); the contents of <head>, <script> and <style> and comments are dropped;
- inside <pre>, the source's line breaks are kept as line breaks.
Separators are whitespace on purpose: tokenizers never make a token of them, so a predicted span always starts and
ends on a character the document really shows.

`offsets[i]` is the index in the HTML of text character i: a copied character maps to itself, a decoded entity's
characters to the entity's `&`, a separator to the `<` of the tag (or the first whitespace character) that caused it.
Offsets are non-decreasing.
"""

import html as html_lib
import re

import numpy as np

from .codepoints import codepoints, whitespace_mask

# One markup token: a comment, a declaration/processing instruction, a tag, or an entity. A '<' that starts none of
# these (as in "a < b") is text, as for browsers and html.parser.
_MARKUP = re.compile(
    r"""(?P<comment><!--.*?(?:-->|\Z))"""
    r"""|(?P<decl><[!?][^>]*>?)"""
    r"""|(?P<tag></?(?P<name>[A-Za-z][A-Za-z0-9:-]*)(?:[^>"']|"[^"]*"|'[^']*')*>)"""
    r"""|(?P<entity>&(?:\#[0-9]+;?|\#[xX][0-9A-Fa-f]+;?|[A-Za-z][A-Za-z0-9]*;))""",
    re.DOTALL,
)

# Elements whose contents are not readable text, and where their contents end. <head> also ends where <body> starts
# (its end tag is optional); script and style run to their end tag, or to the end of the document without one.
_DROPPED_UNTIL = {
    "head": re.compile(r"</head\s*>|(?=<body[\s/>])", re.IGNORECASE),
    "script": re.compile(r"</script\s*>", re.IGNORECASE),
    "style": re.compile(r"</style\s*>", re.IGNORECASE),
}
_UNTERMINATED_DROPS_REST = {"head": False, "script": True, "style": True}

# Ranks of the characters of the intermediate text: a whitespace run becomes one character of its highest rank.
_VISIBLE, _SPACE, _CELL, _LINE = 0, 1, 2, 3
_RANK_CHAR = np.array([0, ord(" "), ord("\t"), ord("\n")], dtype=np.uint32)

_LINE_TAGS = frozenset(
    "address article aside blockquote body br caption center dd details dialog dir div dl dt fieldset figcaption "
    "figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr html legend li main menu nav noscript ol p pre section "
    "summary table tbody tfoot thead title tr ul".split()
)
_CELL_TAGS = frozenset(("td", "th"))

# Kinds of the scanner's pieces, and the rank each gives its characters (text gets its rank from the characters).
_TEXT, _PRE_TEXT, _DECODED, _CELL_BREAK, _LINE_BREAK = 0, 1, 2, 3, 4
_KIND_RANK = np.array([_VISIBLE, _VISIBLE, _VISIBLE, _CELL, _LINE], dtype=np.int8)


def _decode_entity(entity):
    """The characters an entity stands for, or None when it names nothing (then it stays as written)."""
    decoded = html_lib.unescape(entity)
    return None if decoded == entity else decoded


def _scan(html):
    """Split `html` into the pieces of an intermediate text: strings, their html positions and kinds."""
    strings, positions, kinds = [], [], []

    def add(string, position, kind):
        strings.append(string)
        positions.append(position)
        kinds.append(kind)

    pre_depth = 0
    pos = 0
    while True:
        match = _MARKUP.search(html, pos)
        text_end = match.start() if match else len(html)
        if text_end > pos:
            add(html[pos:text_end], pos, _PRE_TEXT if pre_depth else _TEXT)
        if match is None:
            break
        pos = match.end()
        if match.lastgroup == "entity":
            decoded = _decode_entity(match.group())
            if decoded is None:
                add(match.group(), match.start(), _TEXT)
            else:
                add(decoded, match.start(), _DECODED)
        elif match.lastgroup == "tag":  # comments and declarations produce nothing
            name = match.group("name").lower()
            closing = match.group().startswith("</")
            if not closing and name in _DROPPED_UNTIL:
                pos = _end_of_dropped(html, name, pos)
                continue
            if name == "pre":
                pre_depth = max(0, pre_depth + (-1 if closing else 1))
            if name in _LINE_TAGS:
                add("\n", match.start(), _LINE_BREAK)
            elif name in _CELL_TAGS:
                add("\t", match.start(), _CELL_BREAK)
    return strings, positions, kinds


def _end_of_dropped(html, name, pos):
    end = _DROPPED_UNTIL[name].search(html, pos)
    if end is not None:
        return end.end()
    return len(html) if _UNTERMINATED_DROPS_REST[name] else pos


def _char_arrays(strings, positions, kinds):
    """Per character of the intermediate text: code point, html offset and rank."""
    lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
    kinds = np.asarray(kinds, dtype=np.int8)
    codes = codepoints("".join(strings))
    first_char = np.cumsum(lengths) - lengths
    index_in_piece = np.arange(len(codes), dtype=np.int64) - np.repeat(first_char, lengths)
    copied = np.repeat((kinds == _TEXT) | (kinds == _PRE_TEXT), lengths)
    # Copied text advances with the html; decoded entities and separators repeat the position of their markup.
    offsets = np.repeat(np.asarray(positions, dtype=np.int64), lengths) + np.where(copied, index_in_piece, 0)

    rank = np.repeat(_KIND_RANK[kinds], lengths)
    # str.isspace(), so that the collapse agrees with str.split(), which the metrics use.
    rank[(rank == _VISIBLE) & whitespace_mask(codes)] = _SPACE
    in_pre = np.repeat(kinds == _PRE_TEXT, lengths)
    rank[in_pre & (codes == ord("\n"))] = _LINE
    return codes, offsets, rank


def _collapse_whitespace(codes, offsets, rank):
    """Replace each whitespace run by its highest-ranked character; drop leading and trailing runs."""
    keep = rank == _VISIBLE
    space_at = np.flatnonzero(~keep)
    if len(space_at) == 0:
        return _decode(codes), offsets
    run_starts = np.flatnonzero(np.diff(space_at, prepend=-2) != 1)
    run_lengths = np.diff(np.append(run_starts, len(space_at)))
    run_of = np.repeat(np.arange(len(run_starts)), run_lengths)
    run_rank = np.maximum.reduceat(rank[space_at], run_starts)
    # The run's first character of its highest rank stands for it, so a separator keeps the offset of its tag.
    is_top = rank[space_at] == run_rank[run_of]
    chosen = _first_per_run(space_at[is_top], run_of[is_top])
    inner = (space_at[run_starts] > 0) & (space_at[run_starts + run_lengths - 1] < len(codes) - 1)
    codes = codes.copy()
    codes[chosen[inner]] = _RANK_CHAR[run_rank[inner]]
    keep[chosen[inner]] = True
    return _decode(codes[keep]), offsets[keep]


def _first_per_run(positions, runs):
    """The first position of each run, given positions in order and their (non-decreasing) run numbers."""
    return positions[np.diff(runs, prepend=-1) != 0]


def _decode(codes):
    return codes.tobytes().decode("utf-32-le", "surrogatepass")


def html_to_text(html):
    """Readable text of an HTML document and, per text character, its index in `html` (non-decreasing int64)."""
    pieces = _scan(html)
    if not pieces[0]:
        return "", np.zeros(0, dtype=np.int64)
    return _collapse_whitespace(*_char_arrays(*pieces))


def to_text_span(text, offsets, start, end):
    """The text span [s, e) showing the original span [start, end): the text characters that come from it, without
    leading or trailing whitespace. Empty (s == e) when the original span shows nothing."""
    s = int(np.searchsorted(offsets, start, side="left"))
    e = int(np.searchsorted(offsets, end, side="left"))
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def to_original_span(html, offsets, s, e):
    """The original span [start, end) of the text span [s, e): from the first character's offset to the end of the
    last one's source, so a last character decoded from an entity (or standing for a tag) takes all of it."""
    if e <= s:
        start = int(offsets[s]) if s < len(offsets) else len(html)
        return start, start
    return int(offsets[s]), _source_end(html, int(offsets[e - 1]))


def to_original_spans(html, offsets, starts, ends):
    """`to_original_span` of every text span [starts[k], ends[k]) (int64 arrays, vectorized)."""
    starts, ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
    if len(offsets) == 0:
        past_end = np.full(len(starts), len(html), dtype=np.int64)
        return past_end, past_end.copy()
    original_starts = np.append(offsets, len(html)).astype(np.int64)[starts]
    last = offsets[np.maximum(ends - 1, 0)].astype(np.int64)
    original_ends = last + 1
    # Only a last character whose source starts with markup can stand for more than itself.
    at_markup = np.flatnonzero((ends > starts) & np.isin(codepoints(html)[last], (ord("<"), ord("&"))))
    for k in at_markup.tolist():
        original_ends[k] = _source_end(html, int(last[k]))
    return original_starts, np.where(ends > starts, original_ends, original_starts)


def _source_end(html, offset):
    """One past the source of the text character at html[offset]: the whole tag it stands for (a separator) or
    entity it was decoded from, else the character itself."""
    markup = _MARKUP.match(html, offset)
    if markup is not None and (markup.lastgroup != "entity" or _decode_entity(markup.group()) is not None):
        return markup.end()
    return offset + 1
