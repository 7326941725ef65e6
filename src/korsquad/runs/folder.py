"""The run folder `<output_dir>/<data_name>/<run_name>/` and every path in it; nothing else spells them out.

    run.json                      the resolved settings and the run's record (status, wall time, hardware)
    result.json                   official scores of the evaluated checkpoint (the latest evaluation)
    evaluations.json              every evaluation of the folder: its scores and what they were measured on
    predictions_eval.json, nbest_predictions_eval.json, null_odds_eval.json      dev predictions (2021 names)
    predictions_predict.json, ...                                                --do_predict's predictions
    checkpoints/last.ckpt         newest training state, for --resume
    checkpoints/best.ckpt         the weights with the best score so far, with the settings, step and score (no
                                  optimizer state: evaluation and export need none)
    checkpoints/best_checkpoint.json   which checkpoint is best (path relative to the folder), its score, epoch, step
    best_model/                   the best weights and tokenizer, saved with save_pretrained (korsquad.serving.export)
    best_model/README.md          its model card: scores, settings, hardware, wall time, data license
    logs/                         TensorBoard event files
    csv_logs/version_N/           --logger csv: metrics.csv and hparams.yaml (the resolved settings)
    mlruns/                       --logger mlflow: the MLflow file store (unless MLFLOW_TRACKING_URI is set)
    wandb/                        --logger wandb: Weights & Biases' files (offline runs, to `wandb sync`)
"""

import shutil
from pathlib import Path

from ..common.errors import UsageError
from ..common.jsonio import atomic_write_json, load_json

DEFAULT_OUTPUT_DIR = "./model"  # where run folders go unless --output_dir says otherwise (the report reads there)
EVAL_SPLIT = "eval"  # file suffix of the dev evaluation's outputs (the 2021 names)
PREDICT_SPLIT = "predict"  # file suffix of --do_predict's outputs


class RunFolder:
    def __init__(self, root):
        self.root = Path(root)

    @classmethod
    def of(cls, output_dir, data_name, run_name):
        """The run folder of run `run_name` on data set `data_name` under `output_dir`."""
        return cls(Path(output_dir) / data_name / run_name)

    def __repr__(self):
        return f"RunFolder({str(self.root)!r})"

    def is_run_folder(self):
        """Whether a run wrote here: its run.json or its best checkpoint's record."""
        return self.run_json.is_file() or self.best_record.is_file()

    def is_same(self, other):
        """Whether `other` is this folder, however either path was spelled."""
        return self.root.resolve() == other.root.resolve()

    @property
    def output_dir(self):
        return self.root.parent.parent

    @property
    def data_name(self):
        return self.root.parent.name

    @property
    def run_name(self):
        return self.root.name

    # ---- paths -------------------------------------------------------------------------------------------
    @property
    def run_json(self):
        return self.root / "run.json"

    @property
    def result_json(self):
        return self.root / "result.json"

    @property
    def evaluations_json(self):
        return self.root / "evaluations.json"

    @property
    def logs_dir(self):
        return self.root / "logs"

    @property
    def csv_logs_dir(self):
        return self.root / "csv_logs"

    @property
    def mlflow_dir(self):
        return self.root / "mlruns"

    @property
    def wandb_dir(self):
        """Where wandb puts a run's files: it makes this `wandb` folder inside the folder it is given."""
        return self.root / "wandb"

    @property
    def checkpoints_dir(self):
        return self.root / "checkpoints"

    @property
    def last_checkpoint(self):
        return self.checkpoints_dir / "last.ckpt"

    @property
    def best_checkpoint_file(self):
        return self.checkpoints_dir / "best.ckpt"

    @property
    def best_record(self):
        return self.checkpoints_dir / "best_checkpoint.json"

    @property
    def best_model_dir(self):
        return self.root / "best_model"

    @property
    def model_card(self):
        return self.best_model_dir / "README.md"

    def predictions(self, split=EVAL_SPLIT):
        return self.root / f"predictions_{split}.json"

    def nbest(self, split=EVAL_SPLIT):
        return self.root / f"nbest_predictions_{split}.json"

    def null_odds(self, split=EVAL_SPLIT):
        return self.root / f"null_odds_{split}.json"

    # ---- the best checkpoint -----------------------------------------------------------------------------
    def record_best(self, checkpoint, metric, score, epoch, step):
        """Point at `checkpoint` (stored relative to the folder, so a moved folder still evaluates)."""
        atomic_write_json(self.best_record, {
            "path": Path(checkpoint).resolve().relative_to(self.root.resolve()).as_posix(),
            "metric": metric, "score": score, "epoch": epoch, "step": step})

    def read_best(self):
        """The best checkpoint's record with `path` made absolute, or None."""
        if not self.best_record.is_file():
            return None
        record = load_json(self.best_record)
        if not isinstance(record, dict) or not isinstance(record.get("path"), str):
            raise UsageError(f"{self.best_record}: no \"path\" of the best checkpoint")
        return dict(record, path=self.root / record["path"])

    def best_checkpoint(self):
        record = self.read_best()
        if record is None or not record["path"].is_file():
            raise UsageError(f"no trained checkpoint in {self.root}: train first with --do_train, or pass "
                             "--checkpoint")
        return record["path"]

    # ---- training into the folder ------------------------------------------------------------------------
    def training_settings(self):
        """The settings of the training that made this folder: run.json's "config" when a training wrote it (an
        evaluation in the folder keeps it and records its own under "evaluation"), else None."""
        record = self.read_record()
        config = record.get("config") if record is not None else None
        return config if isinstance(config, dict) and config.get("do_train") else None

    def holds_training(self):
        """Whether a training wrote here (finished or not): its checkpoints would be mixed with a new one's."""
        return self.training_settings() is not None or self.best_record.is_file() or self.last_checkpoint.is_file()

    def check_training(self, resume, overwrite):
        """Refuse to mix a new training with an old one's files, unless told to continue or to start over. True
        when the folder holds an old training that the new one replaces (--overwrite_output_dir): the caller
        removes it (`clear`) only once every other check has passed, so that a refused command removes nothing."""
        if resume:
            if not self.last_checkpoint.is_file():
                raise UsageError(f"--resume: no {self.last_checkpoint} to continue from")
            return False
        if not self.holds_training():
            return False
        if not overwrite:
            raise UsageError(f"{self.root} already holds a training run: give --resume to continue it or "
                             "--overwrite_output_dir to replace it")
        if not self.made_by_training():
            raise UsageError(f"--overwrite_output_dir: {self.root} was not made as a run folder by run_qa.py (no "
                             "run.json of a training naming it), so it is not removed: remove it yourself")
        return True

    def clear(self):
        """Remove the folder: an old training that check_training said a new one replaces."""
        shutil.rmtree(self.root)

    def made_by_training(self):
        """Whether this folder is a run folder that a training of this toolkit made: its run.json records a
        training whose run folder is this one (<data_name>/<run_name>). Only such a folder is ever removed."""
        config = self.training_settings()
        return config is not None and config.get("run_name") == self.run_name and config.get("data_name") == \
            self.data_name

    # ---- evaluations.json ---------------------------------------------------------------------------------
    def read_evaluations(self):
        """The folder's evaluations, oldest first ([] when none was recorded)."""
        try:
            evaluations = load_json(self.evaluations_json)
        except UsageError:
            return []
        return [e for e in evaluations if isinstance(e, dict)] if isinstance(evaluations, list) else []

    def add_evaluation(self, entry):
        """Append one evaluation (korsquad.runs.record.evaluation_entry), labelled by its number."""
        evaluations = self.read_evaluations()
        evaluations.append(dict(entry, label=f"evaluation {len(evaluations) + 1}"))
        atomic_write_json(self.evaluations_json, evaluations)

    # ---- run.json ----------------------------------------------------------------------------------------
    def read_record(self):
        """run.json as a dict, or None when missing or unreadable."""
        try:
            record = load_json(self.run_json)
        except UsageError:
            return None
        return record if isinstance(record, dict) else None

    def required_record(self):
        """run.json of a run folder that a command reads (compare, the evaluation page), or one error line: the
        folder missing, or no "config" object in its run.json."""
        if not self.root.is_dir():
            raise UsageError(f"{self.root}: run folder not found")
        record = load_json(self.run_json)
        if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
            raise UsageError(f"{self.run_json}: no \"config\" object: is {self.root} a run folder of run_qa.py?")
        return record

    def write_record(self, record, evaluation_only):
        """Write run.json. An evaluation in a folder that a training made keeps the training's record (the report
        and later evaluations read it) and puts its own under "evaluation"."""
        if evaluation_only and self.training_settings() is not None:
            record = dict(self.read_record(), evaluation=record)
        atomic_write_json(self.run_json, record)


def run_folders(output_dir):
    """Every `<output_dir>/<data_name>/<run_name>/` folder, sorted by data set then run: the places a run folder
    may be (whether each is one is the reader's question)."""
    for data_dir in sorted(p for p in Path(output_dir).iterdir() if p.is_dir()):
        for run_dir in sorted(p for p in data_dir.iterdir() if p.is_dir()):
            yield RunFolder(run_dir)
