"""Does the tokenizer fit the training data? Measured on a sample before training, so that an English vocabulary on
Korean text (which trains without complaint and answers '는 서울이다') is named before the run spends its time.

Two numbers, each a pure function of tokens and spans:
- `unknown_share`: the share of the contexts' characters (whitespace aside) that the tokenizer turns into its
  unknown token or byte-fallback pieces (sentencepiece's <0xEA>): text the model cannot read. BERT's [UNK] stands
  for a whole word, so the share of characters says more than the share of tokens.
- `exact_share`: of the labeled answers, those whose tokens spell exactly the answer text (audit.audit_labels,
  what `python -m korsquad.features.audit` reports as exact_text).

all-MiniLM-L6-v2 (English WordPiece) on a KorQuAD 1.0 sample: 21-23% unknown, 91-94% exact; on SQuAD: below 0.01%
unknown, 99-100% exact.
"""

import shlex

import numpy as np

from .audit import audit_labels
from .unknown_tokens import context_unknown_share
from .windows import build_features

SAMPLE_SIZE = 300  # questions, spread over the training set: a second or two of tokenizing
MAX_UNKNOWN_SHARE = 0.01
MIN_EXACT_SHARE = 0.8


def spread_sample(items, size=SAMPLE_SIZE):
    """At most `size` items taken evenly across `items` (the first ones are often a single article)."""
    if len(items) <= size:
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, size).round().astype(int)]


def exact_share(counts):
    """Of audit_labels' counts: the share of labeled answers spelled exactly by their tokens (1.0 with none)."""
    return counts["exact_text"] / counts["labeled"] if counts["labeled"] else 1.0


def measure(examples, tokenizer, window, reader):
    """{"questions", "unknown_share", "exact_share"} of the tokenizer on `examples` (take a spread_sample), windowed
    by `window` (a settings.WindowSettings)."""
    features = build_features(examples, tokenizer, window, training=True, reader=reader)
    counts = audit_labels(examples, features, reader)
    return {"questions": len(examples), "unknown_share": context_unknown_share(examples, tokenizer, reader),
            "exact_share": exact_share(counts)}


def fit_warning(fit, audit_command):
    """One warning line when the tokenizer fits badly (unknown share above MAX_UNKNOWN_SHARE or exact share below
    MIN_EXACT_SHARE), else None."""
    if fit["unknown_share"] <= MAX_UNKNOWN_SHARE and fit["exact_share"] >= MIN_EXACT_SHARE:
        return None
    return (f"warning: the tokenizer does not fit this data: on {fit['questions']} training questions "
            f"{fit['unknown_share']:.1%} of the context characters are unknown tokens ([UNK] or byte fallback; "
            f"at most {MAX_UNKNOWN_SHARE:.0%} expected) and its tokens spell {fit['exact_share']:.1%} of the answers "
            f"exactly (at least {MIN_EXACT_SHARE:.0%} expected); a model for this language fits better. "
            f"Details: {audit_command}")


def audit_command(data_name, model_type, model_name_or_path, path, window):
    """The label audit's command line for this data and tokenizer (`window`: a settings.WindowSettings)."""
    flags = [f"--data_name={data_name}", f"--model_type={model_type}", f"--model_name_or_path={model_name_or_path}"]
    flags += [f"--{name}={value}" for name, value in window.as_dict().items()]
    return shlex.join(["python", "-m", "korsquad.features.audit", *flags, str(path)])
