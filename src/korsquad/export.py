"""The trained model leaves the run: best_model/ (weights, tokenizer, a fast tokenizer for KoBERT), its model card,
and the upload to the Hugging Face Hub.

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

Also here: `model_card` / `write_model_card` (best_model/README.md) and `push_to_hub` (--push_to_hub). Lightning
is not imported here: run_qa.py checks --push_to_hub (`check_push`) before anything heavy loads.
"""

import inspect
import json
import re
import shlex
import sys
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .checkpoints import is_hub_model_id
from .errors import UsageError

SPIECE_UNDERLINE = "\u2581"
KOBERT_MODEL_INPUTS = ("input_ids", "token_type_ids", "attention_mask")
# sentencepiece piece types (sentencepiece_model.proto)
_NORMAL, _UNKNOWN, _CONTROL, _USER_DEFINED, _UNUSED, _BYTE = 1, 2, 3, 4, 5, 6
_UNIGRAM, _BPE = 1, 2


# ---------------------------------------------------------------------------------------------------------------
# best_model/


def export_model(model, tokenizer, directory, model_type, settings=None):
    """save_pretrained of the weights and the tokenizer; for KoBERT model types also a fast tokenizer.json (and a
    tokenizer_config.json that AutoTokenizer reads) so that AutoTokenizer and pipeline() load the folder. `settings`:
    the training's resolved settings, kept beside them (korsquad.checkpoints.SETTINGS_FILE) so that evaluating the
    folder uses the windows and decoding that trained it."""
    from .checkpoints import write_model_settings
    from .model_types import KOBERT_MODEL_TYPES

    directory = Path(directory)
    model.save_pretrained(directory)
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


# ---------------------------------------------------------------------------------------------------------------
# the model card

# Hub names of the data sets (datasets:, model-index) and their display names; a data set missing here is named by
# its registry name only.
HUB_DATASETS = {
    "squad_v1.1": ("SQuAD 1.1", "rajpurkar/squad", None),
    "squad_v2.0": ("SQuAD 2.0", "rajpurkar/squad_v2", None),
    "korquad_v1.0": ("KorQuAD 1.0", "KorQuAD/squad_kor_v1", None),
    "korquad_v2.0": ("KorQuAD 2.0", None, None),
    "korquad_v2.1": ("KorQuAD 2.1", "KorQuAD/squad_kor_v2", None),
    "klue_mrc": ("KLUE-MRC", "klue/klue", "mrc"),
}
# The registry's license names as the Hub's model-card metadata spells them.
LICENSES = {
    "CC BY-SA 4.0": ({"license": "cc-by-sa-4.0"}, "https://creativecommons.org/licenses/by-sa/4.0/"),
    "CC BY-ND 2.0 KR": ({"license": "other", "license_name": "cc-by-nd-2.0-kr",
                         "license_link": "https://creativecommons.org/licenses/by-nd/2.0/kr/"},
                        "https://creativecommons.org/licenses/by-nd/2.0/kr/"),
}
METRIC_NAMES = {"exact_match": "Exact Match", "exact": "Exact Match", "f1": "F1", "rouge_w": "ROUGE-W",
                "total": "questions"}
# Keys of a result that are counts or tuned settings, not scores: in the card's table, not in model-index.
NOT_SCORES = ("total", "thresh", "null_score_diff_threshold")


def metric_name(key, spec):
    """'F1', 'HasAns Exact Match', 'type 2 (multi-sentence reasoning) ROUGE-W', 'best F1 threshold', ..."""
    for prefix in ("HasAns_", "NoAns_"):
        if key.startswith(prefix):
            return f"{prefix[:-1]} {metric_name(key[len(prefix):], spec)}"
    if key.startswith("type") and "_" in key and key[4:key.index("_")].isdigit():
        number = int(key[4:key.index("_")])
        meaning = spec.question_types.get(number)
        label = f"type {number} ({meaning})" if meaning else f"type {number}"
        return f"{label} {metric_name(key[key.index('_') + 1:], spec)}"
    if key.startswith("best_"):
        rest = key[len("best_"):]
        if rest.endswith("_thresh"):
            return f"no-answer threshold of the best {metric_name(rest[:-len('_thresh')], spec)}"
        if rest.endswith("_null_score_diff_threshold"):
            metric = metric_name(rest[:-len("_null_score_diff_threshold")], spec)
            return f"--null_score_diff_threshold that gives the best {metric}"
        return f"{metric_name(rest, spec)} at the best no-answer threshold"
    return METRIC_NAMES.get(key, key)


def _is_score(key):
    return not any(key == part or key.endswith(f"_{part}") for part in NOT_SCORES)


def card_scores(result, best, spec):
    """[(key, value)] of the best checkpoint's official scores: result.json's when given, else the primary metric
    from best_checkpoint.json."""
    if result:
        return [(key, value) for key, value in result.items() if isinstance(value, (int, float))]
    if best and best.get("score") is not None:
        return [(best.get("metric") or spec.primary_metric, best["score"])]
    return []


def model_card(record, result, best, spec):
    """The Hugging Face model card (README.md) of a run's best_model/: YAML front matter (language, license,
    datasets, tags, pipeline_tag, base_model, model-index with the best checkpoint's official scores), then what
    the model is, its scores, how to use it, the training command and resolved settings, hardware, wall time,
    tokens seen and the data set's license.

    record: run.json (the training's record); result: result.json of the best checkpoint, or None when the run
    did not evaluate it (the card then has the primary metric from best_checkpoint.json); best: that file, or None.
    """
    import yaml

    config = dict(record.get("config") or {})
    best = best or {}
    display, hub_id, hub_config = HUB_DATASETS.get(spec.name, (spec.name, None, None))
    license_meta, license_url = LICENSES.get(spec.license, ({"license": "other"}, None))
    base = config.get("model_name_or_path")
    name = config.get("push_to_hub") or config.get("run_name") or f"{config.get('model_type')}-{spec.name}"
    scores = card_scores(result, best, spec)
    primary = best.get("metric") or spec.primary_metric

    meta = {"language": [spec.language], **license_meta, "library_name": "transformers",
            "tags": ["question-answering", "korsquad-pl", config.get("model_type") or "", spec.name],
            "pipeline_tag": "question-answering"}
    meta["tags"] = [tag for tag in meta["tags"] if tag]
    if hub_id:
        meta["datasets"] = [hub_id]
    if is_hub_model_id(base):
        meta["base_model"] = base
    if scores:
        dataset = {"name": display, "type": hub_id or spec.name, "split": "validation"}
        if hub_config:
            dataset["config"] = hub_config
        if config.get("dev_file"):
            dataset = {"name": f"{display} ({Path(config['dev_file']).name})", "type": spec.name}
        ranked = sorted((item for item in scores if _is_score(item[0])), key=lambda item: item[0] != primary)
        metrics = [{"type": key, "value": _round(value), "name": metric_name(key, spec)} for key, value in ranked]
        meta["model-index"] = [{"name": name, "results": [{
            "task": {"type": "question-answering", "name": "Question Answering"},
            "dataset": dataset, "metrics": metrics}]}]
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)

    lines = [f"---\n{front}---", "", f"# {name}", ""]
    what = (f"A {config.get('model_type') or 'question-answering'} model fine-tuned for extractive question "
            f"answering on **{display}** ({_language_name(spec.language)}) with KorSQuAD-pl (PyTorch Lightning), "
            f"starting from `{base}`. It finds the answer to a question as a span of the given context.")
    lines += [what, ""]

    lines += ["## Scores", ""]
    if scores:
        where = "the dev set"
        if config.get("dev_file"):
            where = f"`{config['dev_file']}`"
        if config.get("max_eval_samples"):
            where += f" (its first {config['max_eval_samples']} questions only)"
        lines += [f"Scores of the best checkpoint on {where} by the official {display} metric (`{spec.metric}`); "
                  f"checkpoints were ranked by **{metric_name(primary, spec)}** (`{primary}`).", ""]
        lines += ["| metric | key | value |", "|---|---|---|"]
        lines += [f"| {metric_name(key, spec)} | `{key}` | {_format_value(key, value)} |" for key, value in scores]
        if best.get("step") is not None:
            lines += ["", f"Best checkpoint: epoch {best.get('epoch')}, step {best.get('step')}."]
        if not result:
            lines += ["", "The run did not evaluate with `--do_eval`: only the primary metric of the best "
                          "checkpoint is known."]
    else:
        lines += ["No score: the run kept no evaluated checkpoint."]
    lines.append("")

    lines += ["## Usage", "", "```python", "from transformers import pipeline", "",
              f"qa = pipeline(\"question-answering\", model=\"{config.get('push_to_hub') or 'path/to/best_model'}\")",
              "qa(question=..., context=...)", "```", ""]
    if config.get("model_type") in ("kobert", "distilkobert"):
        lines += ["`tokenizer.json` reproduces KoBERT's sentencepiece tokenizer (`KoBertTokenizer`, whose files "
                  "are here too), so `AutoTokenizer` loads it without custom code.", ""]

    command = training_command(config)
    lines += ["## Training", "", "The command, run from the KorSQuAD-pl repository, with every setting resolved:", "",
              "```bash", command, "```", "",
              "The same settings as a `--config` file (`python run_qa.py --config settings.yaml`):", "", "```yaml",
              yaml.safe_dump(reproducible_settings(config), sort_keys=False, allow_unicode=True).rstrip(), "```",
              ""]

    hardware = record.get("hardware") or {}
    facts = []
    if hardware:
        devices = hardware.get("devices")
        nodes = hardware.get("num_nodes") or 1
        device = hardware.get("device_name")
        if hardware.get("accelerator") not in (None, device):
            device = f"{device} ({hardware['accelerator']})"
        facts.append(f"- Hardware: {devices} x {device}" + (f" on {nodes} machines" if nodes > 1 else "")
                     + f", precision {config.get('precision')}")
    if record.get("wall_time_s") is not None:
        facts.append(f"- Wall time: {_duration(record['wall_time_s'])}, training and evaluation (the whole "
                     "run_qa.py invocation)")
    if record.get("train_steps") is not None:
        facts.append(f"- Optimizer steps: {record['train_steps']:,}")
    tokens = record.get("train_tokens")
    facts.append("- Tokens seen: " + (f"{tokens:,}: the real (not padding) tokens of every training sequence, "
                                       "question and special tokens included, counted during training over all "
                                       "processes and epochs" if tokens is not None else "not counted"))
    if record.get("num_parameters"):
        facts.append(f"- Parameters: {record['num_parameters']:,}")
    if record.get("finished_at"):
        facts.append(f"- Finished: {record['finished_at']}")
    lines += ["## Compute", "", *facts, ""]

    lines += ["## License", ""]
    if spec.license:
        link = f"[{spec.license}]({license_url})" if license_url else spec.license
        lines += [f"The training data, {display}, is licensed under {link}; the license field above states it. "
                  f"The license of the base model `{base}` applies to the weights as well.", ""]
    else:
        lines += [f"See the licenses of {display} and of the base model `{base}`.", ""]
    return "\n".join(lines)


def reproducible_settings(config):
    """The run's settings as a --config file: flag names only, without what would not reproduce the run."""
    from .config import BY_NAME, NOT_REPLAYED  # they would not reproduce the run, or would upload it again

    return {key: value for key, value in config.items()
            if key in BY_NAME and key != "config" and key not in NOT_REPLAYED and value is not None}


def training_command(config):
    """`python run_qa.py --flag value ...` for every setting of the run (its defaults resolved)."""
    parts = ["python", "run_qa.py"]
    for key, value in reproducible_settings(config).items():
        if value is True:
            parts.append(f"--{key}")
        elif value is not False:
            parts += [f"--{key}", str(value)]
    return " ".join(shlex.quote(part) for part in parts)


def _round(value):
    return round(value, 4) if isinstance(value, float) else value


def _format_value(key, value):
    if isinstance(value, float) and _is_score(key):
        return f"{value:.2f}"
    return f"{value:,}" if isinstance(value, int) else f"{value}"


def _duration(seconds):
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if not hours and not minutes:
        return f"{secs} s"
    text = f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"
    return f"{text} ({seconds:,.0f} s)"


def _language_name(code):
    return {"ko": "Korean", "en": "English"}.get(code, code)


def write_model_card(folder, spec):
    """best_model/README.md from the run's files: run.json, best_checkpoint.json, and result.json when this run
    evaluated its best checkpoint (--do_eval with --do_train; an older result.json may be another checkpoint's)."""
    from .jsonio import atomic_write_bytes

    record = folder.read_record() or {}
    config = record.get("config") or {}
    result = None
    if config.get("do_train") and config.get("do_eval") and folder.result_json.is_file():
        result = json.loads(folder.result_json.read_text(encoding="utf-8"))
    best = folder.read_best()
    if best is not None:
        best = dict(best, path=str(Path(best["path"]).relative_to(folder.root)))
    atomic_write_bytes(folder.model_card, model_card(record, result, best, spec).encode("utf-8"))
    return folder.model_card


# ---------------------------------------------------------------------------------------------------------------
# the Hub


def check_push(config):
    """--push_to_hub before any model loads: a repository id, a training to upload, a token, not offline."""
    repo = config.push_to_hub
    if not repo:
        return
    from huggingface_hub import constants, get_token

    if not config.do_train:
        raise UsageError(f"--push_to_hub {repo} uploads the best_model/ of a training: give it with --do_train "
                         f"(to upload a finished run: hf upload {repo} <run folder>/best_model)")
    if constants.HF_HUB_OFFLINE:
        raise UsageError(f"--push_to_hub {repo}: HF_HUB_OFFLINE is set, nothing can be uploaded")
    if get_token() is None:
        raise UsageError(f"--push_to_hub {repo}: no Hugging Face token: set HF_TOKEN or log in with `hf auth login`")


def push_to_hub(repo_id, folder, commit_message=None):
    """Create the model repository if needed (exist_ok) and upload `folder` (best_model/) in one commit, to the Hub
    of HF_ENDPOINT with the token of HF_TOKEN or `hf auth login`. Returns the repository's URL. Any failure is a
    UsageError of one line (`error: --push_to_hub REPO: ...`, exit 2: the upload asked for did not happen); nothing
    local is touched."""
    import requests
    from huggingface_hub import HfApi

    api = HfApi()
    folder = Path(folder)
    try:
        url = api.create_repo(repo_id, exist_ok=True)
        api.upload_folder(repo_id=repo_id, folder_path=str(folder),
                          commit_message=commit_message or f"Upload {folder.name} (KorSQuAD-pl)")
    except (requests.RequestException, ValueError, OSError) as err:
        raise UsageError(f"--push_to_hub {repo_id}: {_upload_failure(err, api.endpoint)}; nothing was lost: every "
                         f"file of the run is in {folder.parent} (upload later with `hf upload {repo_id} "
                         f"{folder}`)") from None
    return str(url)


def _upload_failure(err, endpoint):
    import requests

    if isinstance(err, requests.ConnectionError) and not type(err).__name__ == "OfflineModeIsEnabled":
        cause = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(err))
        return f"cannot reach {endpoint}" + (f" ({cause.group(1).strip()})" if cause else "")
    text = str(err).strip()
    first = text.splitlines()[0] if text else type(err).__name__
    server = getattr(err, "server_message", None)
    if server and server.strip() and server.strip() not in first:
        first += f" ({server.strip().splitlines()[0]})"
    return first
