"""The registry: the one place that describes each data set.

For every data set: where its official files are (URL, byte size, sha256 where known), where they land under
`--data_dir` (`DatasetSpec.data_folder`), its language, whether it has unanswerable questions, which reader reads
its files (korsquad.data.readers: their layout, and the text windows are built on), how its questions are named and
typed, which official metric scores it (a record of korsquad.data.metrics, which owns the metric's keys and the one
that ranks checkpoints), and its default hyper-parameters (from the experiment tables or the data set's own
baseline). Nothing else in the project hard-codes a data set name or file.

`korsquad check --data_name NAME FILE_OR_FOLDER` reads a file (JSON, .jsonl, or a KorQuAD 2.x
folder) with the strict readers and prints a summary whose last line is one JSON object.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..common.errors import ArgumentParser, UsageError, exit_on_usage_error
from .metrics import KLUE_MRC, KORQUAD_V1, KORQUAD_V2, SQUAD_V1, SQUAD_V2
from .readers import KORQUAD2_PAGES, SQUAD_JSON, read_dataset

# Where the data sets land unless --data_dir (--download_dir) says otherwise: the downloads write there, run_qa.py
# and the evaluation page read from there.
DEFAULT_DATA_DIR = "./data"
SQUAD_URL = "https://rajpurkar.github.io/SQuAD-explorer/dataset/"
KORQUAD1_URL = "https://korquad.github.io/dataset/"
KORQUAD2_URL = "https://github.com/korquad/korquad.github.io/raw/master/dataset/"
KLUE_URL = "https://raw.githubusercontent.com/KLUE-benchmark/KLUE/main/klue_benchmark/"


@dataclass(frozen=True)
class RemoteFile:
    """One official file: `dest` is relative to the data set's folder (`DatasetSpec.data_folder`)."""

    url: str
    dest: str
    split: str
    size: int = None
    sha256: str = None

    @property
    def is_zip(self):
        return self.dest.endswith(".zip")


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    family: str  # "squad", "korquad" or "klue": the download script is download_<family>.py
    language: str
    has_unanswerable: bool
    metric: object  # the official metric: its record (korsquad.data.metrics.Metric), which knows the keys it ranks by
    reader: object  # the readers.Reader of its files' layout (SQUAD_JSON, KORQUAD2_PAGES, ...)
    files: tuple
    defaults: dict
    eps_1e6_model_types: frozenset  # model types whose experiment-table adam_epsilon is 1e-6 (others 1e-8)
    download_by_default: bool = True
    notes: dict = field(default_factory=dict)
    id_field: str = "id"  # the question's id field in the official files
    question_types: dict = field(default_factory=dict)  # type number -> meaning; {} when questions are not typed
    license: str = ""  # the data set's license ("CC BY-SA 4.0"); a trained model's card states it

    @property
    def multi_part(self):
        """KorQuAD 2.x ships each split as several zip parts, extracted into a folder."""
        return any(f.is_zip for f in self.files)

    def data_folder(self, data_dir):
        """`<data_dir>/<name>/`: the data set's files, and its feature caches under `cache/`."""
        return Path(data_dir) / self.name

    def file_path(self, data_dir, remote):
        return self.data_folder(data_dir) / remote.dest

    def split_path(self, data_dir, split):
        """The split's one file (`<data_dir>/<name>/train.json`), or the folder its parts are extracted into
        (`<data_dir>/<name>/train/` for KorQuAD 2.x)."""
        if self.multi_part:
            return self.data_folder(data_dir) / split
        (remote,) = self.files_for(split)
        return self.file_path(data_dir, remote)

    def files_for(self, split):
        return tuple(f for f in self.files if f.split == split)

    def adam_epsilon(self, model_type):
        return 1e-6 if model_type in self.eps_1e6_model_types else 1e-8


# Defaults shared by both families; "batch_size_large" applies to large models (hidden size >= 1024).
_COMMON = dict(
    doc_stride=128,
    max_query_length=64,
    n_best_size=20,
    max_answer_length=30,
    null_score_diff_threshold=0.0,
    batch_size=16,
    batch_size_large=4,
    num_train_epochs=3,
    weight_decay=0.01,
    negative_window_ratio=1.0,
)
SQUAD_DEFAULTS = dict(_COMMON, max_seq_length=384, learning_rate=3e-5)
KORQUAD_DEFAULTS = dict(_COMMON, max_seq_length=512, learning_rate=5e-5)
# KorQuAD 2.x answers are often whole table rows, cells or list items, far longer than the 30 tokens that fit
# SQuAD-style phrases, and a document gives dozens of windows of which only a few hold the answer.
# See `notes` of those specs for the measurements behind these values.
KORQUAD2_DEFAULTS = dict(KORQUAD_DEFAULTS, max_answer_length=256, negative_window_ratio=0.1)

KORQUAD2_NOTES = {
    "max_answer_length": "answers are cells, rows, lists and paragraphs: whole elements of the real sample pages "
                         "measure up to 193 tokens (p90 of paragraphs 118) with a Korean WordPiece vocabulary; "
                         "256 covers them and stays below the 318 tokens that always fit a 512/128/64 window",
    "negative_window_ratio": "a question has about 24 windows at 512/128/64, about 3.4 of them holding the answer; "
                             "0.1 keeps those and about 2 of the others (bench/bench_korquad2_scale.py)",
}
# KLUE-MRC: the baseline of the KLUE paper (Park et al. 2021, arXiv:2105.09680), github.com/KLUE-benchmark/
# KLUE-baseline; the notes say which file each value comes from.
KLUE_MRC_DEFAULTS = dict(KORQUAD_DEFAULTS, max_seq_length=510, learning_rate=3e-5, num_train_epochs=5, batch_size=16)
KLUE_MRC_NOTES = {
    "max_seq_length": "510: KLUE-baseline run_all.sh (KLUE-MRC, klue/roberta-*) and its MRC processor's default; "
                      "its klue/bert-base run used 512",
    "learning_rate": "3e-5: KLUE-baseline run_all.sh (KLUE-MRC, every model)",
    "num_train_epochs": "5: KLUE-baseline run_all.sh (KLUE-MRC, every model)",
    "batch_size": "16: KLUE-baseline run_all.sh (KLUE-MRC, every model)",
    "batch_size_large": "4: this project's rule for large models on one GPU, not KLUE's (its roberta-large ran at 16)",
    "doc_stride": "128: KLUE-baseline MRC processor default",
    "max_query_length": "64: KLUE-baseline MRC processor default",
    "n_best_size": "20: KLUE-baseline MRC model default",
    "max_answer_length": "30: KLUE-baseline MRC model default",
    "null_score_diff_threshold": "0.0: KLUE-baseline decodes with version_2_with_negative and threshold 0",
    "weight_decay": "0.01: the korquad family's value",
    "negative_window_ratio": "1.0: the korquad family's value (contexts are single paragraphs, not whole pages)",
    "adam_epsilon": "the korquad family's rule",
    "primary_metric": "rouge_w: KLUE-baseline run_all.sh keeps the checkpoint by --metric_key rouge_w",
}
KLUE_MRC_QUESTION_TYPES = {1: "paraphrase", 2: "multi-sentence reasoning", 3: "unanswerable"}
SQUAD_EPS_1E6 = frozenset({"albert", "roberta", "xlm-roberta", "electra"})
KORQUAD_EPS_1E6 = frozenset({"koelectra"})


def _squad(version, has_unanswerable, metric, sizes):
    files = tuple(
        RemoteFile(f"{SQUAD_URL}{split}-v{version}.json", f"{split}.json", split, *sizes[split])
        for split in ("train", "dev")
    )
    return DatasetSpec(f"squad_v{version}", "squad", "en", has_unanswerable, metric, SQUAD_JSON, files,
                       SQUAD_DEFAULTS, SQUAD_EPS_1E6, license="CC BY-SA 4.0")


def _korquad2(version, parts, sizes, download_by_default=False):
    base = f"{KORQUAD2_URL}KorQuAD_{version}/"
    files = tuple(
        RemoteFile(f"{base}{split}/KorQuAD_{version}_{split}_{i:02d}.zip",
                   f"{split}/KorQuAD_{version}_{split}_{i:02d}.zip", split, sizes.get((split, i)))
        for split, numbers in parts.items() for i in numbers
    )
    return DatasetSpec(f"korquad_v{version}", "korquad", "ko", False, KORQUAD_V2, KORQUAD2_PAGES, files,
                       KORQUAD2_DEFAULTS, KORQUAD_EPS_1E6, download_by_default,
                       notes=KORQUAD2_NOTES, license="CC BY-ND 2.0 KR")


def _klue_mrc(version):
    files = tuple(
        RemoteFile(f"{KLUE_URL}klue-mrc-v{version}/klue-mrc-v{version}_{split}.json", f"{split}.json", split)
        for split in ("train", "dev")
    )
    # sizes and sha256 are unknown here: a sidecar written at download time verifies the files afterwards
    return DatasetSpec("klue_mrc", "klue", "ko", True, KLUE_MRC, SQUAD_JSON, files, KLUE_MRC_DEFAULTS,
                       KORQUAD_EPS_1E6, notes=KLUE_MRC_NOTES, id_field="guid",
                       question_types=KLUE_MRC_QUESTION_TYPES, license="CC BY-SA 4.0")


REGISTRY = {
    spec.name: spec
    for spec in (
        _squad("1.1", False, SQUAD_V1, {
            "train": (30288272, "3527663986b8295af4f7fcdff1ba1ff3f72d07d61a20f487cb238a6ef92fd955"),
            "dev": (4854279, "95aa6a52d5d6a735563366753ca50492a658031da74f301ac5238b03966972c9"),
        }),
        _squad("2.0", True, SQUAD_V2, {
            "train": (42123633, "68dcfbb971bd3e96d5b46c7177b16c1a4e7d4bdef19fb204502738552dede002"),
            "dev": (4370528, "80a5225e94905956a6446d296ca1093975c4d3b3260f1d6c8f68bc2ab77182d8"),
        }),
        DatasetSpec("korquad_v1.0", "korquad", "ko", False, KORQUAD_V1, SQUAD_JSON, (
            RemoteFile(f"{KORQUAD1_URL}KorQuAD_v1.0_train.json", "train.json", "train", 38527475,
                       "40d5115879a701751781df721d901abfa736d8db5f89000f2619433f39bf2dd2"),
            RemoteFile(f"{KORQUAD1_URL}KorQuAD_v1.0_dev.json", "dev.json", "dev", 3881058,
                       "25ffeb51e6c51ec02c071b60a10188e10005c144110f0d876b26079d80a35bdf"),
        ), KORQUAD_DEFAULTS, KORQUAD_EPS_1E6, license="CC BY-ND 2.0 KR"),
        # KorQuAD 2.0 numbers its parts from 01; 2.1 (what the KorQuAD site serves now) from 00.
        _korquad2("2.0", {"train": range(1, 14), "dev": range(1, 3)}, {}),
        _korquad2("2.1", {"train": range(0, 13), "dev": range(0, 2)},
                  {("dev", 0): 93536216, ("dev", 1): 56806828}),
        _klue_mrc("1.1"),
    )
}


def get_spec(data_name):
    try:
        return REGISTRY[data_name]
    except KeyError:
        raise UsageError(f"--data_name {data_name!r} is unknown; choose one of {', '.join(REGISTRY)}") from None


def split_file(spec, data_dir, split):
    """The train/dev file (or KorQuAD 2.x folder) of a data set, or the error that says how to download it."""
    path = spec.split_path(data_dir, split)
    if not path.exists():
        raise UsageError(f"{path} not found: fetch {spec.name} with `python download_{spec.family}.py "
                         f"--data_name {spec.name} --download_dir {data_dir}`")
    return path


def names(family=None):
    return [name for name, spec in REGISTRY.items() if family is None or spec.family == family]


@exit_on_usage_error
def main(argv=None):
    parser = ArgumentParser(prog="korsquad check", description="A data file read as training reads it: its counts.")
    parser.add_argument("--data_name", required=True, choices=list(REGISTRY))
    parser.add_argument("--training", action="store_true",
                        help="apply the training rules (an answer not found in its context is an error)")
    parser.add_argument("path", help="a data set JSON file, a .jsonl file (one question per line), or a folder of "
                                     "KorQuAD 2.x *.json parts")
    args = parser.parse_args(argv)
    spec = get_spec(args.data_name)
    examples, stats = read_dataset(args.path, spec, training=args.training)
    print(f"{args.path}: {stats['articles']} articles, {stats['questions']} questions "
          f"({stats['unanswerable']} unanswerable), {stats['answer_start_fixed']} answer starts fixed")
    for qtype, count in stats.get("question_types", {}).items():
        print(f"  question type {qtype} ({spec.question_types[int(qtype)]}): {count}")
    print(json.dumps(stats))
    return 0
