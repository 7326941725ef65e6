"""Answer questions with a trained model, the way the dev evaluation does.

    from korsquad import QuestionAnswerer

    qa = QuestionAnswerer("model/korquad_v1.0/RUN")        # a run folder, or a best_model/ folder
    qa("질문", context)                                     # one answer
    qa.batch([{"question": ..., "context": ..., "id": ...}, ...])

A thin layer over the pure functions of the evaluation: `windows.build_features` (training=False) windows the
questions, the model scores length-sorted batches padded by `batching.FeatureBatcher`, and `postprocess.decode`
turns the logits into answers. With the training's settings (best_model/training_settings.json, else run.json's
"config": the window and decoding records of korsquad.runs.settings, model_type, data_name) it therefore
gives the answers of the run's predictions_eval.json for the dev questions: character spans of the given context
(for KorQuAD 2.x, of the HTML document, through the same HTML-to-text map), and "" where the data set has
unanswerable questions and the null rule says so.

Each answer is a dict:
    id          the record's "id", else its position in the list (batch) or None (a single question)
    answer      the answer text, context[char_start:char_end]; "" for no answer
    char_start  character offsets into the given context; -1 when there is no answer
    char_end
    score       the probability of the chosen entry of the question's n-best list: a softmax over the scores
                (start + end logit) of its n_best_size best spans and, for data sets with unanswerable
                questions, the null answer (the "probability" of nbest_predictions_eval.json); 0.0 when there is
                no candidate at all
"""

from itertools import islice

from ..common.errors import UsageError, first_line
from ..data.datasets import REGISTRY, get_spec
from ..data.readers import Example
from ..decoding import postprocess
from ..decoding.inference import MODEL_INPUTS, assemble_logits, feature_logits, uses_token_type_ids
from ..features.model_types import MODEL_TYPES, infer_model_type
from ..features.tokenization import load_tokenizer
from ..features.windows import build_features
from ..runs.checkpoints import locate
from ..runs.settings import INHERITED as SETTINGS
from ..runs.settings import positive_int, resolve_settings

DEFAULT_BATCH_SIZE = 32  # without a run.json to take eval_batch_size from
DEFAULT_CHUNK_SIZE = 256  # questions windowed and decoded at once by `stream`
AUTOCAST = {"bf16-mixed": "bfloat16", "16-mixed": "float16"}


class QuestionAnswerer:
    """A trained model and its run's settings, ready to answer questions.

    model:      a run folder (holding run.json and best_model/) or a model folder saved with save_pretrained
                (best_model/ itself: its settings come from the run folder above it when there is one)
    data_name:  the data set whose registry defaults to use for a model folder without a run; it also decides
                whether answers may be "" (spec.has_unanswerable) and whether contexts are HTML (KorQuAD 2.x).
                Default: the run's.
    model_type: picks KoBertTokenizer for kobert/distilkobert. Default: the run's, else "kobert" when the folder's
                tokenizer_config.json names KoBertTokenizer, else "bert" (any other type loads with AutoTokenizer).
    batch_size: windows per forward pass. Default: the run's eval_batch_size (the dev evaluation's batches), else 32.
    device:     "cpu", "cuda", "cuda:1", a torch.device, or "auto" (the first GPU when there is one).
    precision:  "32", "bf16-mixed" or "16-mixed" (autocast on a GPU, as Lightning evaluates), or "auto" (what
                run_qa.py's --precision auto picks for the device). Default: the run's, whose answers are the dev
                evaluation's (a run trained in bf16 on another machine may be faster here with "auto").
    **settings: overrides of max_seq_length, doc_stride, max_query_length, n_best_size, max_answer_length,
                null_score_diff_threshold (which otherwise come from the training's settings: best_model/'s
                training_settings.json or run.json; else the registry's defaults). They end up in two records,
                `window` (settings.WindowSettings) and `decoding` (settings.DecodingSettings).

    Bad input (a missing folder, no settings, an impossible device or value) raises korsquad.common.errors.UsageError.
    """

    def __init__(self, model, *, data_name=None, model_type=None, batch_size=None, device="auto", precision=None,
                 **settings):
        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            raise TypeError(f"QuestionAnswerer got unknown settings {', '.join(unknown)}; "
                            f"settings are {', '.join(SETTINGS)}")
        source = locate(model, None, exported=True, flag=None)  # a run folder's best_model/, or a model folder
        self.model_dir, self.run_folder = source.path, source.run_folder
        trained = source.settings or {}
        self.data_name = data_name or trained.get("data_name")
        if self.data_name is None:
            raise UsageError(f"{model}: no run.json to take the settings from: pass data_name (one of "
                             f"{', '.join(REGISTRY)})")
        self.spec = get_spec(self.data_name)
        self.model_type = model_type or trained.get("model_type") or infer_model_type(self.model_dir)
        if self.model_type not in MODEL_TYPES:
            raise UsageError(f"model_type {self.model_type!r} is unknown; choose one of {', '.join(MODEL_TYPES)}")
        self.window, self.decoding, _ = resolve_settings(settings, trained, self.spec.defaults, flags=False)
        if batch_size is None:
            batch_size = trained.get("eval_batch_size") or DEFAULT_BATCH_SIZE
        self.batch_size = positive_int("batch_size", batch_size)
        self.precision = precision or trained.get("precision") or "32"
        if self.precision not in ("32", "auto", *AUTOCAST):
            raise UsageError(f"precision must be 32, bf16-mixed, 16-mixed or auto, not {self.precision!r}")
        self.device = resolve_device(device)
        if self.precision == "auto":
            self.precision = auto_precision_on(self.device)[0]
        self.tokenizer = load_tokenizer(self.model_type, str(self.model_dir))
        self.model = load_model(self.model_dir, self.device)
        self.with_token_type_ids = uses_token_type_ids(self.model, self.tokenizer)

    def __repr__(self):
        return (f"QuestionAnswerer({str(self.model_dir)!r}, data_name={self.data_name!r}, "
                f"model_type={self.model_type!r}, device={str(self.device)!r})")

    # ---- answering -----------------------------------------------------------------------------------------
    def __call__(self, question, context, id=None):
        """The answer dict of one question about `context`."""
        return self.batch([{"id": id, "question": question, "context": context}])[0]

    def batch(self, records):
        """Answer dicts of `records` (dicts with "question", "context" and an optional "id"), in their order.

        All the records are windowed, scored and decoded together: pass a few thousand at most, or use
        `stream`. Records without an "id" get their position in the list."""
        records = list(records)
        examples = [to_example(i, record, f"record {i}") for i, record in enumerate(records)]
        return self._answer(examples, [record.get("id", i) for i, record in enumerate(records)])

    def stream(self, records, chunk_size=DEFAULT_CHUNK_SIZE):
        """Answer dicts of an iterable of records, `chunk_size` at a time, so memory stays bounded whatever the
        number of records. Records without an "id" get their position in the iterable."""
        positive_int("chunk_size", chunk_size)
        iterator = iter(records)
        first = 0
        while True:
            chunk = list(islice(iterator, chunk_size))
            if not chunk:
                return
            examples = [to_example(i, record, f"record {first + i}") for i, record in enumerate(chunk)]
            yield from self._answer(examples, [record.get("id", first + i) for i, record in enumerate(chunk)])
            first += len(chunk)

    def _answer(self, examples, ids):
        if not examples:
            return []
        features = build_features(examples, self.tokenizer, self.window, training=False,
                                  reader=self.spec.reader)
        start, end = self.logits(features)
        with_null = self.spec.has_unanswerable
        decoded = postprocess.decode(features, examples, start, end, with_null=with_null,
                                     **self.decoding.as_dict())
        return [chosen_answer(record_id, decoded.predictions.get(example.id, ""), decoded.nbest.get(example.id, []),
                              with_null)
                for record_id, example in zip(ids, examples)]

    def logits(self, features):
        """Start and end logits of every token of `features` (ragged, aligned with the token arrays), from
        length-sorted batches padded as the evaluation pads them."""
        import torch

        from ..common.cpu import width_multiple
        from ..features.batching import FeatureBatcher, length_sorted_shard

        # padded to the evaluation's batch widths: other widths change bf16 sums, and then an answer or two
        batcher = FeatureBatcher(features, self.tokenizer, self.with_token_type_ids, self.window.max_seq_length,
                                 multiple=width_multiple(self.device.type == "cpu", self.precision))
        batches = []
        with torch.inference_mode(), self._autocast():
            for indices in length_sorted_shard(features.lengths, self.batch_size, 0, 1):
                batch = batcher(indices)
                batch.update({key: batch[key].to(self.device) for key in MODEL_INPUTS if key in batch})
                batches.append(feature_logits(self.model, batch))
        return assemble_logits(features, batches)

    def _autocast(self):
        import contextlib

        import torch

        if self.precision == "32" or (self.device.type == "cpu" and self.precision == "16-mixed"):
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=getattr(torch, AUTOCAST[self.precision]))


# ---- pieces ----------------------------------------------------------------------------------------------
def resolve_device(device):
    import torch

    if isinstance(device, torch.device):
        return device
    name = str(device).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(name)
    except RuntimeError:
        raise UsageError(f"device {device!r}: expected cpu, cuda, cuda:N or auto") from None
    if resolved.type not in ("cpu", "cuda"):
        raise UsageError(f"device {device!r}: expected cpu, cuda, cuda:N or auto")
    if resolved.type == "cuda":
        count = torch.cuda.device_count()
        if resolved.index is not None and resolved.index >= count or count == 0:
            raise UsageError(f"device {device!r}: this machine has {count} GPU(s)")
    return resolved


def load_model(model_dir, device):
    from transformers import AutoModelForQuestionAnswering

    try:
        model = AutoModelForQuestionAnswering.from_pretrained(str(model_dir))
    except (OSError, ValueError) as err:
        reason = first_line(err)
        raise UsageError(f"{model_dir}: cannot load the model ({reason})") from None
    return model.to(device).eval()


def to_example(index, record, where):
    """An Example with the position as its id (records' own ids may repeat or be missing)."""
    check_record(record, where)
    return Example(id=str(index), question=record["question"], context=record["context"], answers=(),
                   is_impossible=False)


def check_record(record, where):
    """UsageError naming `where` unless the record is an object with a non-empty question and context."""
    if not isinstance(record, dict):
        raise UsageError(f"{where}: expected an object with \"question\" and \"context\", not "
                         f"{type(record).__name__}")
    for field in ("question", "context"):
        value = record.get(field)
        if not isinstance(value, str) or not value.strip():
            problem = "missing" if value is None else "not a string" if not isinstance(value, str) else "empty"
            raise UsageError(f"{where}: \"{field}\" is {problem}")


def auto_precision_on(device):
    """(precision, why) that precision="auto" gives on a torch.device: what run_qa.py's --precision auto picks."""
    from ..common.cpu import precision_here

    if device.type == "cpu":
        return precision_here("cpu", 1)
    return precision_here("gpu", [device.index or 0])


def chosen_answer(record_id, prediction, nbest, with_null):
    """The answer dict from decode's prediction and n-best list: the best span when the prediction is one (the
    first span of the list), else the null entry (data sets with unanswerable questions), else nothing."""
    if prediction:
        entry = next(e for e in nbest if e["char_start"] >= 0)
    elif with_null:
        entry = next((e for e in nbest if e["char_start"] < 0), None)
    else:
        entry = None
    if entry is None:
        return {"id": record_id, "answer": "", "char_start": -1, "char_end": -1, "score": 0.0}
    return {"id": record_id, "answer": prediction, "char_start": entry["char_start"], "char_end": entry["char_end"],
            "score": entry["probability"]}


__all__ = ["QuestionAnswerer", "SETTINGS"]
