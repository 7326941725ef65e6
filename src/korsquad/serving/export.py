"""The trained model leaves the run as best_model/: weights, tokenizer, and a fast tokenizer for KoBERT.

KoBERT's `KoBertTokenizer` is not a class `AutoTokenizer` knows, so a KoBERT/DistilKoBERT best_model/ also gets a
`tokenizer.json` that reproduces it (`kobert_fast_tokenizer`): the sentencepiece model's own segmentation (its
Unigram scores, or its BPE merges) with each piece's id taken from KoBERT's vocab.txt (KoBERT numbers pieces by
that file, not by the sentencepiece ids), its text normalization (KoBertTokenizer.preprocess_text, then the
sentencepiece normalizer), and the [CLS] A [SEP] B [SEP] layout with token types. `tokenizer_config.json` names
PreTrainedTokenizerFast, so `AutoTokenizer` and `pipeline("question-answering", model=best_model)` load it; the
KoBERT files stay next to it, so `load_tokenizer("kobert", best_model)` still loads the slow tokenizer.

One rule of KoBertTokenizer has no fast equivalent: a piece ending in a digit and a comma ("▁1,") is split after
segmenting into the digits' own pieces and ",". The fast tokenizer segments without such pieces (as transformers'
AlbertConverter does), which gives the same ids unless the neighbouring digits then join otherwise;
`FastTokenizerReport.digit_comma_pieces` lists them (none: the two tokenizers agree) and the export prints a note.
(Loading the folder with KoBertTokenizer makes transformers warn that tokenizer_config.json names another class;
the KoBERT files are read as before.)

The folder's model card is written by korsquad.serving.model_card, its upload by korsquad.serving.hub.
"""

import inspect
import json
import os
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

SPIECE_UNDERLINE = "\u2581"
KOBERT_MODEL_INPUTS = ("input_ids", "token_type_ids", "attention_mask")
# sentencepiece piece types (sentencepiece_model.proto)
_NORMAL, _UNKNOWN, _CONTROL, _USER_DEFINED, _UNUSED, _BYTE = 1, 2, 3, 4, 5, 6
_UNIGRAM, _BPE = 1, 2


def export_model(model, tokenizer, directory, model_type, settings=None):
    """save_pretrained of the weights and the tokenizer; for KoBERT model types also a fast tokenizer.json (and a
    tokenizer_config.json that AutoTokenizer reads) so that AutoTokenizer and pipeline() load the folder. `settings`:
    the training's resolved settings, kept beside them (korsquad.runs.checkpoints.SETTINGS_FILE) so that evaluating the
    folder uses the windows and decoding that trained it."""
    from ..common.jsonio import ordinary_file_mode
    from ..features.model_types import KOBERT_MODEL_TYPES
    from ..runs.checkpoints import write_model_settings

    directory = Path(directory)
    model.save_pretrained(directory)
    for weights in directory.glob("*.safetensors"):  # safetensors writes them 0o600 (a private temporary file)
        os.chmod(weights, ordinary_file_mode())
    tokenizer.save_pretrained(directory)
    if settings is not None:
        write_model_settings(directory, settings)
    if model_type in KOBERT_MODEL_TYPES:
        inputs = inspect.signature(model.forward).parameters
        names = [name for name in KOBERT_MODEL_INPUTS if name in inputs]
        max_length = getattr(model.config, "max_position_embeddings", None)
        save_kobert_fast_tokenizer(tokenizer, directory, model_input_names=names, model_max_length=max_length)
    return directory


def save_kobert_fast_tokenizer(tokenizer, directory, *, model_input_names=KOBERT_MODEL_INPUTS, model_max_length=None):
    """Write tokenizer.json next to the KoBERT files KoBertTokenizer.save_pretrained wrote, and make
    tokenizer_config.json name PreTrainedTokenizerFast (the KoBERT keys stay: KoBertTokenizer still loads it)."""
    directory = Path(directory)
    fast, report = kobert_fast_tokenizer(tokenizer, model_input_names=model_input_names)
    if model_max_length:
        fast.model_max_length = model_max_length
    config_path = directory / "tokenizer_config.json"
    kobert_config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    fast.save_pretrained(directory)
    config = json.loads(config_path.read_text(encoding="utf-8"))
    for key in ("do_lower_case", "remove_space", "keep_accents"):
        config.setdefault(key, kobert_config.get(key, getattr(tokenizer, key)))
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for problem in report.problems():
        print(f"note: {directory / 'tokenizer.json'}: {problem}", file=sys.stderr)
    return report


@dataclass
class FastTokenizerReport:
    """What the conversion could not carry over (all zero for KoBERT's files and the tests' tokenizers)."""

    model_type: str  # "unigram" or "bpe"
    pieces_not_in_vocab: list = field(default_factory=list)  # sentencepiece pieces vocab.txt lacks (left out)
    vocab_not_in_model: list = field(default_factory=list)  # vocab.txt entries that are no piece (never produced)
    digit_comma_pieces: list = field(default_factory=list)  # pieces KoBertTokenizer re-splits ("▁1," -> "▁1" ",")
    user_defined_split: list = field(default_factory=list)  # user-defined pieces the model cannot give whole

    def problems(self):
        """Where the fast tokenizer may give other ids than KoBertTokenizer, one line each."""
        lines = []
        if self.pieces_not_in_vocab:
            lines.append(f"{len(self.pieces_not_in_vocab)} sentencepiece pieces are not in vocab.txt (KoBertTokenizer "
                         f"maps them to its unknown token; the fast tokenizer segments without them): "
                         f"{' '.join(self.pieces_not_in_vocab[:10])}")
        if self.user_defined_split:
            lines.append(f"{len(self.user_defined_split)} user-defined pieces come out split: "
                         f"{' '.join(self.user_defined_split[:10])}")
        if self.digit_comma_pieces:
            lines.append(f"{len(self.digit_comma_pieces)} pieces end in a digit and a comma, which KoBertTokenizer "
                         "splits after segmenting; the fast tokenizer segments without them, so a number followed "
                         f"by a comma may get other pieces: {' '.join(self.digit_comma_pieces[:10])}")
        return lines


def kobert_fast_tokenizer(tokenizer, model_input_names=KOBERT_MODEL_INPUTS):
    """(PreTrainedTokenizerFast, FastTokenizerReport): the fast equivalent of a KoBertTokenizer."""
    from sentencepiece import sentencepiece_model_pb2
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, pre_tokenizers, processors
    from tokenizers.models import BPE, Unigram
    from transformers import PreTrainedTokenizerFast

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(Path(tokenizer.vocab_file).read_bytes())
    vocab = list(tokenizer.idx2token)  # KoBERT's ids: the lines of vocab.txt
    ids = {token: i for i, token in enumerate(vocab)}
    kind = {_UNIGRAM: "unigram", _BPE: "bpe"}.get(proto.trainer_spec.model_type)
    if kind is None:
        raise ValueError(f"{tokenizer.vocab_file}: sentencepiece model type {proto.trainer_spec.model_type} is "
                         "neither Unigram nor BPE")
    pieces = [(p.piece, p.score) for p in proto.pieces if p.type in (_NORMAL, _USER_DEFINED)]
    report = FastTokenizerReport(kind)
    report.pieces_not_in_vocab = [piece for piece, _ in pieces if piece not in ids]
    report.digit_comma_pieces = [piece for piece, _ in pieces
                                 if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit()]
    scores = {piece: score for piece, score in pieces if piece in ids}
    specials = {str(t) for t in tokenizer.all_special_tokens}
    report.vocab_not_in_model = [t for t in vocab if t not in scores and t not in specials]
    # sentencepiece matches user-defined pieces whole wherever they occur, before segmenting the rest
    user_defined = [p.piece for p in proto.pieces if p.type == _USER_DEFINED and p.piece in ids
                    and p.piece not in specials]
    unk = tokenizer.unk_token
    if kind == "unigram":
        # vocab.txt entries that are no piece get the lowest piece score: the unknown token's score (lowest - 10)
        # stays what sentencepiece uses
        lowest = min(scores.values(), default=0.0)
        for piece in report.digit_comma_pieces:  # as transformers' AlbertConverter: picked only when nothing else fits
            scores[piece] -= 100
        model = Unigram([(token, scores.get(token, lowest)) for token in vocab], unk_id=ids[unk],
                        byte_fallback=False)
    else:
        # every vocab.txt entry keeps its id (the special tokens' too); only pieces are ever merged into
        digit_comma = set(report.digit_comma_pieces)  # never formed: the digits and "," stay apart
        merges = [(left, right) for left, right in _bpe_merges(scores) if left + right not in digit_comma]
        model = BPE(dict(ids), merges, unk_token=unk, fuse_unk=True, dropout=None)
        if any(not _whole(model, piece) for piece in user_defined):
            # sentencepiece's BPE never merges a user-defined piece: with merges that cannot build one, a word the
            # vocabulary holds whole (the pre-tokenizer isolates these pieces) comes out whole
            model = BPE(dict(ids), merges, unk_token=unk, fuse_unk=True, dropout=None, ignore_merges=True)
    report.user_defined_split = [piece for piece in user_defined if not _whole(model, piece)]
    backend = Tokenizer(model)
    backend.normalizer = _normalizer(tokenizer, proto)
    add_prefix = proto.normalizer_spec.add_dummy_prefix
    if add_prefix:
        # Words one by one, each with its "▁" (sentencepiece's segmentation never crosses one): a token's offsets
        # then cover its word, not the space before it (pipeline answers do not start with a space).
        words = [pre_tokenizers.Split(" ", behavior="removed"),
                 pre_tokenizers.Metaspace(replacement=SPIECE_UNDERLINE, prepend_scheme="always")]
    else:  # no "▁" before the first word
        words = [pre_tokenizers.Metaspace(replacement=SPIECE_UNDERLINE, prepend_scheme="never")]
    if user_defined:  # whole wherever they occur, "▁" left apart ("▁은하천" -> "▁" "은하" "천"), as sentencepiece
        alternatives = "|".join(re.escape(piece) for piece in sorted(user_defined, key=len, reverse=True))
        words.append(pre_tokenizers.Split(Regex(alternatives), behavior="isolated"))
    backend.pre_tokenizer = pre_tokenizers.Sequence(words)
    backend.decoder = decoders.Metaspace(replacement=SPIECE_UNDERLINE,
                                         prepend_scheme="always" if add_prefix else "never")
    added = sorted(tokenizer.added_tokens_decoder.items())
    extra = [(i, t) for i, t in added if i >= len(vocab)]
    if [i for i, _ in extra] != list(range(len(vocab), len(vocab) + len(extra))):
        raise ValueError("added tokens of the KoBERT tokenizer do not follow its vocabulary")
    for i, token in extra:  # tokens added after vocab.txt take the next ids, as in the slow tokenizer
        backend.add_tokens([AddedToken(str(token), special=token.special, normalized=token.normalized,
                                       lstrip=token.lstrip, rstrip=token.rstrip, single_word=token.single_word)])
    backend.add_special_tokens([AddedToken(str(t), normalized=False) for i, t in added if i < len(vocab)
                                and str(t) in specials])
    cls, sep = tokenizer.cls_token, tokenizer.sep_token
    backend.post_processor = processors.TemplateProcessing(
        single=f"{cls}:0 $A:0 {sep}:0", pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
        special_tokens=[(cls, tokenizer.cls_token_id), (sep, tokenizer.sep_token_id)])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token=unk, sep_token=sep, pad_token=tokenizer.pad_token, cls_token=cls,
        mask_token=tokenizer.mask_token, model_input_names=list(model_input_names),
        clean_up_tokenization_spaces=False)
    return fast, report


def _whole(model, piece):
    return [token.value for token in model.tokenize(piece)] == [piece]


def _bpe_merges(scores):
    """sentencepiece BPE merges the adjacent pair whose joined piece scores highest: merges ranked by that score."""
    merges = []
    for piece, score in scores.items():
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in scores and right in scores:
                merges.append((-score, cut, left, right))
    merges.sort()
    return [(left, right) for _, _, left, right in merges]


def _normalizer(tokenizer, proto):
    """KoBertTokenizer.preprocess_text, then the sentencepiece normalizer (its character map, its whitespace)."""
    from tokenizers import Regex, normalizers

    steps = []
    if tokenizer.remove_space:  # " ".join(text.strip().split()): Python's whitespace, exactly
        steps += [normalizers.Replace(Regex(f"[{_char_class('whitespace')}]+"), " "), normalizers.Strip()]
    steps += [normalizers.Replace("``", '"'), normalizers.Replace("''", '"')]
    if not tokenizer.keep_accents:  # NFKD, then drop what unicodedata.combining() marks
        steps += [normalizers.NFKD(),
                  normalizers.Replace(Regex(f"[{_char_class('combining')}]"), "")]
    if tokenizer.do_lower_case:
        steps.append(normalizers.Lowercase())
    spec = proto.normalizer_spec
    if spec.precompiled_charsmap:
        # sentencepiece maps the longest matching sequence: it composes the Hangul jamo NFKD made (KoBERT's
        # preprocess decomposes every syllable), which `Precompiled` leaves apart (it maps long sequences one
        # character at a time); NFC composes them first
        steps += [normalizers.NFC(), normalizers.Precompiled(spec.precompiled_charsmap)]
    if spec.remove_extra_whitespaces:
        steps += [normalizers.Replace(Regex(" {2,}"), " "), normalizers.Strip()]
    return normalizers.Sequence(steps)


_CHAR_TESTS = {"whitespace": str.isspace, "combining": lambda c: unicodedata.combining(c) != 0}


@lru_cache(maxsize=None)
def _char_class(name):
    """A regex character class (without brackets) of every code point that Python's test `name` accepts (this
    Python's Unicode version, as KoBertTokenizer runs), as ranges."""
    test = _CHAR_TESTS[name]
    ranges, start = [], None
    for code in range(sys.maxunicode + 2):
        inside = code <= sys.maxunicode and not 0xD800 <= code <= 0xDFFF and test(chr(code))
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            ranges.append((start, code - 1))
            start = None
    return "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)
