"""--logger: where a training's scalars and settings go. TensorBoard and CSV come with the project; Weights & Biases
and MLflow are extras (`pip install 'korsquad[wandb]'`, `'korsquad[mlflow]'`) and stay on this machine: wandb runs
offline unless WANDB_MODE says otherwise, MLflow writes a file store in the run folder unless MLFLOW_TRACKING_URI
names a server. `--logger none` trains without any (the run folder's own files are written all the same).

Every logger receives the same scalars (korsquad.training.progress.TrainingLog and korsquad.training.validation write to
each of `trainer.loggers`) and, once, the run's resolved settings (`config.record()`) as its
hyper-parameters. Lightning, at the start of fit, would also hand every logger the LightningModule's init arguments:
a subset of the settings, with the model path resolved to a folder, which MLflow refuses as a changed parameter and
which would overwrite CSV's hparams.yaml. So each logger here keeps the first hyper-parameters it is given (the
settings, logged by `log_settings` before fit) and drops later ones.

TensorBoard's HParams tab shows the settings beside `hp_metric`: the best value so far of the data set's primary
metric, logged after every validation (Lightning's own placeholder, -1, is never written).

With --log_model, the loggers that store files (MLflow, W&B) also receive the run's outputs at its end: result.json,
the prediction files and best_model/ (`log_run_files`), as Lightning's WandbLogger(log_model=True) and the Hugging
Face Trainer's MLflow callback do with the model.

This module imports nothing heavy at the top: the config checks names with it before Lightning is loaded.
"""

import importlib.util
import os

# name -> (module that must be importable, the korsquad extra that installs it); None: always installed
LOGGERS = {"tensorboard": None, "csv": None, "wandb": ("wandb", "wandb"), "mlflow": ("mlflow", "mlflow")}
NO_LOGGER = "none"
HP_METRIC = "hp_metric"
FILE_LOGGERS = ("wandb", "mlflow")  # the loggers that store files (--log_model)
PROJECT = "korsquad"  # the wandb project / MLflow experiment, unless WANDB_PROJECT / MLFLOW_EXPERIMENT_NAME is set


def logger_names(value):
    """'tensorboard, csv' -> ['tensorboard', 'csv'] (order kept, repeats dropped); 'none' -> []."""
    names = list(dict.fromkeys(name.strip() for name in value.split(",") if name.strip()))
    return [] if names == [NO_LOGGER] else names


def check_logger_names(value):
    """The config's check of --logger: None, or what is wrong with it."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    if names == [NO_LOGGER]:
        return None
    if NO_LOGGER in names:
        return f"must be {NO_LOGGER} alone (no logger) or names of loggers"
    unknown = [name for name in names if name not in LOGGERS]
    if unknown or not names:
        return (f"must be {NO_LOGGER} or comma-separated names from {', '.join(LOGGERS)}"
                + (f" ({', '.join(map(repr, unknown))} unknown)" if unknown else ""))
    return None


def check_installed(value, find_spec=importlib.util.find_spec):
    """Raise UsageError naming the extra when a chosen logger's package is not installed (before any model loads)."""
    from ..common.errors import UsageError

    for name in logger_names(value):
        if LOGGERS.get(name) is None:
            continue
        module, extra = LOGGERS[name]
        if find_spec(module) is None:
            raise UsageError(f"--logger {name} needs the {module} package: pip install 'korsquad[{extra}]'")


def check_log_model(logger, log_model):
    """The config's check of --log_model with --logger: None, or what is wrong."""
    if log_model and not any(name in FILE_LOGGERS for name in logger_names(logger)):
        return (f"--log_model sends the run's files to {' or '.join(FILE_LOGGERS)}: add one to --logger "
                f"(now {logger})")
    return None


def build_loggers(config):
    """The training's Lightning loggers, in the order given, writing under the run folder."""
    folder = config.folder
    loggers = []
    for name in logger_names(config.logger):
        if name == "tensorboard":
            from pytorch_lightning.loggers import TensorBoardLogger

            loggers.append(_settings_first(TensorBoardLogger, HpMetricDeclared)(
                str(folder.root), name=folder.logs_dir.name, default_hp_metric=False))
        elif name == "csv":
            from pytorch_lightning.loggers import CSVLogger

            loggers.append(_settings_first(CSVLogger)(str(folder.root), name=folder.csv_logs_dir.name))
        elif name == "wandb":
            from pytorch_lightning.loggers import WandbLogger

            # wandb makes its `wandb` folder (folder.wandb_dir) in the one it is given. offline=True would
            # override WANDB_MODE; without it wandb reads WANDB_MODE itself.
            loggers.append(_settings_first(WandbLogger)(
                name=config.run_name, save_dir=str(folder.root),
                project=os.environ.get("WANDB_PROJECT") or PROJECT, offline="WANDB_MODE" not in os.environ))
        elif name == "mlflow":
            from pytorch_lightning.loggers import MLFlowLogger

            tracking_uri = os.environ.get("MLFLOW_TRACKING_URI")
            if not tracking_uri:
                tracking_uri = folder.mlflow_dir.resolve().as_uri()
                # MLflow 3 keeps its file store in maintenance and refuses it unless asked for
                os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            loggers.append(_settings_first(MLFlowLogger)(
                experiment_name=os.environ.get("MLFLOW_EXPERIMENT_NAME") or PROJECT, run_name=config.run_name,
                tracking_uri=tracking_uri))
    return loggers


def log_best_score(loggers, score, step):
    """TensorBoard's hp_metric: the best primary-metric score so far (call on process 0)."""
    from pytorch_lightning.loggers import TensorBoardLogger

    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.log_metrics({HP_METRIC: score}, step=step)


def log_settings(loggers, config):
    """The resolved settings as every logger's hyper-parameters; call on process 0 only, before fit."""
    settings = config.record()
    for logger in loggers:
        logger.log_hyperparams(settings)


def run_files(folder):
    """The outputs --log_model sends, those that exist: (path, kind) with kind "file" or "folder"."""
    from ..runs.folder import EVAL_SPLIT, PREDICT_SPLIT

    files = [folder.result_json] + [path(split) for split in (EVAL_SPLIT, PREDICT_SPLIT)
                                    for path in (folder.predictions, folder.nbest, folder.null_odds)]
    return ([(path, "file") for path in files if path.is_file()]
            + ([(folder.best_model_dir, "folder")] if folder.best_model_dir.is_dir() else []))


def log_run_files(loggers, folder):
    """--log_model, at the end of the run on process 0: every file-storing logger receives `run_files(folder)`.
    MLflow: artifacts at the run's root, best_model/ as a folder of them. W&B: one artifact of type "model"
    named model-<run id> (the name WandbLogger(log_model=True) gives its checkpoints)."""
    from pytorch_lightning.loggers import MLFlowLogger, WandbLogger

    outputs = run_files(folder)
    for logger in loggers:
        if isinstance(logger, MLFlowLogger):
            client, run_id = logger.experiment, logger.run_id
            for path, what in outputs:
                if what == "file":
                    client.log_artifact(run_id, str(path))
                else:
                    client.log_artifacts(run_id, str(path), artifact_path=path.name)
        elif isinstance(logger, WandbLogger):
            import wandb

            run = logger.experiment
            artifact = wandb.Artifact(f"model-{run.id}", type="model")
            for path, what in outputs:
                if what == "file":
                    artifact.add_file(str(path), name=path.name)
                else:
                    artifact.add_dir(str(path), name=path.name)
            run.log_artifact(artifact)


class SettingsFirst:
    """Mixed into a Lightning logger: it keeps the first hyper-parameters it is given (the run's settings) and drops
    later ones (Lightning's, at the start of fit). The logger's own method stays process-0-only."""

    _settings_logged = False

    def log_hyperparams(self, params, *args, **kwargs):
        if not self._settings_logged:
            self._settings_logged = True
            super().log_hyperparams(params, *args, **kwargs)


class HpMetricDeclared:
    """Mixed into a TensorBoardLogger built with default_hp_metric=False, which then writes no HParams summary: the
    summary is written here, naming hp_metric as its metric without a value (log_best_score logs the values)."""

    def log_hyperparams(self, params, metrics=None, step=None):
        super().log_hyperparams(params, metrics, step)
        if metrics is None:
            self._declare_hp_metric(params)

    def _declare_hp_metric(self, params):
        from lightning_fabric.utilities.logger import _convert_params, _flatten_dict
        from pytorch_lightning.utilities import rank_zero_only
        from torch.utils.tensorboard.summary import hparams

        if rank_zero_only.rank != 0:
            return
        # the settings flattened and made TensorBoard-safe as Lightning does it for its own summary
        flat = self._sanitize_params(_flatten_dict(_convert_params(params)))
        writer = self.experiment._get_file_writer()
        for summary in hparams(flat, {HP_METRIC: None}):
            writer.add_summary(summary)


_CLASSES = {}


def _settings_first(cls, *mixins):
    key = (cls, *mixins)
    if key not in _CLASSES:
        _CLASSES[key] = type(cls.__name__, (SettingsFirst, *mixins, cls), {"__module__": __name__})
    return _CLASSES[key]
