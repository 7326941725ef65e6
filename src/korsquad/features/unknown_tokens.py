"""How much text a tokenizer cannot read: the share of the contexts' characters (whitespace aside) that it turns
into its unknown token or byte-fallback pieces (sentencepiece's <0xEA>). BERT's [UNK] stands for a whole word, so
the share of characters says more than the share of tokens. Used by the tokenizer-fit warning before training and by
the label audit (`python -m korsquad.features.audit`)."""

import re

import numpy as np

from ..data.codepoints import codepoints, whitespace_mask
from .tokenization import tokenize_with_offsets

_BYTE_PIECE = re.compile(r"<0x[0-9A-Fa-f]{2}>")


def unknown_token_ids(tokenizer):
    """The ids that stand for text the vocabulary lacks: the unknown token and byte-fallback pieces."""
    ids = {tokenizer.unk_token_id} if tokenizer.unk_token_id is not None else set()
    return ids | {i for token, i in tokenizer.get_vocab().items() if _BYTE_PIECE.fullmatch(token)}


def unknown_share(texts, tokenized, unknown_ids):
    """Share of the non-whitespace characters of `texts` inside tokens whose id is in `unknown_ids`; `tokenized`
    is (ids, char starts, char ends) per text, as tokenization.tokenize_with_offsets gives."""
    unknown = np.fromiter(unknown_ids, dtype=np.int64, count=len(unknown_ids))
    covered = total = 0
    for text, (ids, starts, ends) in zip(texts, tokenized):
        visible = ~whitespace_mask(codepoints(text))
        total += int(visible.sum())
        hit = np.isin(ids, unknown)
        if hit.any():
            depth = np.zeros(len(text) + 1, dtype=np.int64)  # +1 where an unknown token starts, -1 where it ends
            np.add.at(depth, starts[hit], 1)
            np.add.at(depth, ends[hit], -1)
            covered += int(np.sum(visible & (np.cumsum(depth[:-1]) > 0)))
    return covered / total if total else 0.0


def context_unknown_share(examples, tokenizer, reader):
    """unknown_share of the examples' contexts as the model reads them: the text their data set's reader gives."""
    contexts = [reader.window_text(context)[0] for context in dict.fromkeys(example.context for example in examples)]
    return unknown_share(contexts, tokenize_with_offsets(tokenizer, contexts), unknown_token_ids(tokenizer))
