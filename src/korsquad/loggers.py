"""--logger: where a training's scalars and settings go. TensorBoard and CSV come with the project; Weights & Biases
and MLflow are extras (`pip install 'korsquad[wandb]'`, `'korsquad[mlflow]'`) and stay on this machine: wandb runs
offline unless WANDB_MODE says otherwise, MLflow writes a file store in the run folder unless MLFLOW_TRACKING_URI
names a server.

Every logger receives the same scalars (Lightning hands each `self.log` to all of `trainer.loggers`, and
korsquad.throughput writes to each of them) and, once, the run's resolved settings (`config.record()`) as its
hyper-parameters. Lightning, at the start of fit, would also hand every logger the LightningModule's init arguments:
a subset of the settings, with the model path resolved to a folder, which MLflow refuses as a changed parameter and
which would overwrite CSV's hparams.yaml. So each logger here keeps the first hyper-parameters it is given (the
settings, logged by `log_settings` before fit) and drops later ones.

This module imports nothing heavy at the top: the config checks names with it before Lightning is loaded.
"""

import importlib.util
import os

# name -> (module that must be importable, the korsquad extra that installs it); None: always installed
LOGGERS = {"tensorboard": None, "csv": None, "wandb": ("wandb", "wandb"), "mlflow": ("mlflow", "mlflow")}
PROJECT = "korsquad"  # the wandb project / MLflow experiment, unless WANDB_PROJECT / MLFLOW_EXPERIMENT_NAME is set


def logger_names(value):
    """'tensorboard, csv' -> ['tensorboard', 'csv'] (order kept, repeats dropped)."""
    return list(dict.fromkeys(name.strip() for name in value.split(",") if name.strip()))


def check_logger_names(value):
    """The config's check of --logger: None, or what is wrong with it."""
    names = logger_names(value)
    unknown = [name for name in names if name not in LOGGERS]
    if unknown or not names:
        return (f"must be comma-separated names from {', '.join(LOGGERS)}"
                + (f" ({', '.join(map(repr, unknown))} unknown)" if unknown else ""))
    return None


def check_installed(value, find_spec=importlib.util.find_spec):
    """Raise UsageError naming the extra when a chosen logger's package is not installed (before any model loads)."""
    from .errors import UsageError

    for name in logger_names(value):
        if LOGGERS.get(name) is None:
            continue
        module, extra = LOGGERS[name]
        if find_spec(module) is None:
            raise UsageError(f"--logger {name} needs the {module} package: pip install 'korsquad[{extra}]'")


def build_loggers(config):
    """The training's Lightning loggers, in the order given, writing under the run folder."""
    folder = config.folder
    loggers = []
    for name in logger_names(config.logger):
        if name == "tensorboard":
            from pytorch_lightning.loggers import TensorBoardLogger

            loggers.append(_settings_first(TensorBoardLogger)(str(folder.root), name=folder.logs_dir.name))
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


def log_settings(loggers, config):
    """The resolved settings as every logger's hyper-parameters; call on process 0 only, before fit."""
    settings = config.record()
    for logger in loggers:
        logger.log_hyperparams(settings)


class SettingsFirst:
    """Mixed into a Lightning logger: it keeps the first hyper-parameters it is given (the run's settings) and drops
    later ones (Lightning's, at the start of fit). The logger's own method stays process-0-only."""

    _settings_logged = False

    def log_hyperparams(self, params, *args, **kwargs):
        if not self._settings_logged:
            self._settings_logged = True
            super().log_hyperparams(params, *args, **kwargs)


_CLASSES = {}


def _settings_first(cls):
    if cls not in _CLASSES:
        _CLASSES[cls] = type(cls.__name__, (SettingsFirst, cls), {"__module__": __name__})
    return _CLASSES[cls]
