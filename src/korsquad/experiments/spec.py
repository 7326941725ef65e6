"""An experiment file (YAML): the table it states, read and checked into an Experiment before anything runs.

    description: KorQuAD 1.0 dev, the 2021 table        # optional: the results table's caption
    output_dir: runs/korquad_v1.0                        # optional: default runs/<file stem>
    data_sets: [korquad_v1.0]                            # or {squad_v1.1: {<settings for it>}, ...}
    seeds: [42]                                          # default [42]
    settings: {num_train_epochs: 3}                      # run_qa.py settings of every cell
    sizes:                                               # size classes: GPUs per cell and their settings
      base: {gpus: 1, batch_size: 16}
      large: {gpus: 4, batch_size: 4}
    models:                                              # run_qa.py settings and name / size / reference
      - {model_type: koelectra, model_name_or_path: monologg/koelectra-base-v3-discriminator, size: base,
         adam_epsilon: 1e-6, reference: {exact_match: 83.92, f1: 92.92}}
    grid: {learning_rate: [3e-5, 5e-5]}                  # optional: every combination is a cell

Every setting key is a run_qa.py flag name checked as `--config` checks it (korsquad.config.options.typed_settings) and
by the flag's own range check; the keys that name a cell's place and job (data set, seed, run folder, training and
evaluation, resuming, GPUs) belong to the experiment and are refused in the file. Any problem is one UsageError
naming the file and the key.
"""

import dataclasses
import difflib
from pathlib import Path
from typing import Optional

from ._toolkit import REGISTRY, UsageError, default_run_name, is_plain_name
from .fields import check_keys, mapping, read_block, read_settings, read_text

TOP_KEYS = ("description", "output_dir", "data_sets", "seeds", "settings", "sizes", "models", "grid", "search",
            "slurm")
MODEL_KEYS = ("name", "size", "reference")  # a model entry's keys beside its run_qa.py settings
SIZE_KEYS = ("gpus",)  # a size class's keys beside its run_qa.py settings
DEFAULT_SEEDS = (42,)
DEFAULT_OUTPUT_ROOT = "runs"  # output_dir defaults to runs/<file stem>


@dataclasses.dataclass(frozen=True)
class SizeClass:
    name: str
    gpus: int  # GPUs of one cell when the launcher is given GPUs (DDP when more than one)
    settings: dict


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    name: str  # the stem of its cells' names
    size: Optional[str]
    reference: dict  # {data_name: {result key: number}}: the published scores its row is meant to reproduce
    settings: dict  # its run_qa.py settings (model_type, model_name_or_path, ...)

    @property
    def model_type(self):
        return self.settings.get("model_type")

    @property
    def model_name_or_path(self):
        return self.settings.get("model_name_or_path")


@dataclasses.dataclass(frozen=True)
class Experiment:
    path: Path
    description: Optional[str]
    output_dir: Path
    data_sets: dict  # {data_name: its settings}, in the file's order
    seeds: tuple
    settings: dict
    sizes: dict  # {name: SizeClass}
    models: tuple
    grid: dict  # {setting: tuple of values}
    search: Optional[dict]  # the search: block, read by korsquad.experiments' search
    slurm: Optional[dict]  # the slurm: block, read by the SLURM launcher

    @property
    def name(self):
        return self.path.stem

    @property
    def cells(self):
        from .cells import expand

        return expand(self)


def load_experiment(path, output_dir=None):
    """The Experiment of a YAML file; `output_dir` (the command's --output_dir) overrides the file's."""
    path = Path(path)
    data = read_yaml(path)
    where = str(path)
    check_keys(data, TOP_KEYS, where, "the keys of an experiment file")
    data_sets = read_data_sets(data.get("data_sets"), f"{where}: data_sets")
    settings = read_settings(data.get("settings"), f"{where}: settings")
    sizes = read_sizes(data.get("sizes"), f"{where}: sizes")
    models = read_models(data.get("models"), sizes, data_sets, f"{where}: models")
    grid = read_grid(data.get("grid"), f"{where}: grid")
    experiment = Experiment(
        path=path, description=read_text(data.get("description"), f"{where}: description"),
        output_dir=Path(output_dir or read_text(data.get("output_dir"), f"{where}: output_dir")
                        or Path(DEFAULT_OUTPUT_ROOT) / path.stem),
        data_sets=data_sets, seeds=read_seeds(data.get("seeds"), f"{where}: seeds"), settings=settings,
        sizes=sizes, models=models, grid=grid, search=read_block(data.get("search"), f"{where}: search"),
        slurm=read_block(data.get("slurm"), f"{where}: slurm"))
    check_cells(experiment, where)
    return experiment


def read_yaml(path):
    import yaml

    if not path.is_file():
        raise UsageError(f"{path}: file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise UsageError(f"{path}: not valid YAML ({' '.join(str(err).split())})") from None
    except UnicodeDecodeError as err:
        raise UsageError(f"{path}: not UTF-8 text ({err.reason})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a mapping of {', '.join(TOP_KEYS)}, not {type(data).__name__}")
    return data


def read_data_sets(value, where):
    if value is None:
        raise UsageError(f"{where}: required (the data sets of the table, e.g. [korquad_v1.0])")
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        value = {name: None for name in value}
    data_sets = {}
    for name, settings in mapping(value, where).items():
        if name not in REGISTRY:
            meant = difflib.get_close_matches(str(name), list(REGISTRY), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(map(repr, meant))}?" if meant else ""
            raise UsageError(f"{where}: unknown data set {name!r} (choose from {', '.join(REGISTRY)}{hint})")
        data_sets[name] = read_settings(settings, f"{where}: {name}")
    if not data_sets:
        raise UsageError(f"{where}: no data set given")
    return data_sets


def read_seeds(value, where):
    if value is None:
        return DEFAULT_SEEDS
    seeds = value if isinstance(value, list) else [value]
    if not seeds or any(not isinstance(seed, int) or isinstance(seed, bool) for seed in seeds):
        raise UsageError(f"{where}: expected a list of integers, not {value!r}")
    if len(set(seeds)) != len(seeds):
        raise UsageError(f"{where}: a seed is given twice in {value!r}")
    return tuple(seeds)


def read_sizes(value, where):
    sizes = {}
    for name, entry in mapping(value, where).items():
        entry = dict(mapping(entry, f"{where}: {name}"))
        gpus = entry.pop("gpus", 1)
        if not isinstance(gpus, int) or isinstance(gpus, bool) or gpus < 1:
            raise UsageError(f"{where}: {name}: key 'gpus' must be a positive integer, not {gpus!r}")
        sizes[str(name)] = SizeClass(str(name), gpus, read_settings(entry, f"{where}: {name}"))
    return sizes


def read_models(value, sizes, data_sets, where):
    if not isinstance(value, list) or not value:
        raise UsageError(f"{where}: expected a list of models (each a mapping with model_type and "
                         "model_name_or_path)")
    models = []
    for index, entry in enumerate(value):
        here = f"{where}[{index}]"
        entry = dict(mapping(entry, here))
        name, size, reference = (entry.pop(key, None) for key in MODEL_KEYS)
        settings = read_settings(entry, here)
        for key in ("model_type", "model_name_or_path"):
            if settings.get(key) is None:
                raise UsageError(f"{here}: key {key!r} is required")
        name = model_name(name, settings["model_name_or_path"], here)
        size = read_text(size, f"{here}: size")
        if sizes and size not in sizes:
            raise UsageError(f"{here}: size {size!r} is not one of the file's sizes ({', '.join(sizes)})")
        models.append(ModelEntry(name, size, read_reference(reference, data_sets, f"{here}: reference"), settings))
    return tuple(models)


def model_name(name, model_name_or_path, where):
    if name is None:
        try:
            return default_run_name(model_name_or_path)
        except UsageError:
            raise UsageError(f"{where}: give the model a name: (its model_name_or_path gives no folder name)") \
                from None
    if not isinstance(name, str) or not is_plain_name(name):
        raise UsageError(f"{where}: name {name!r} must be a plain folder name (no / or \\, not . or ..)")
    return name


def read_reference(value, data_sets, where):
    """{data_name: {result key: number}}; a file of one data set may give the scores directly."""
    value = mapping(value, where)
    if not value:
        return {}
    if not set(value) <= set(data_sets):
        if len(data_sets) != 1:
            raise UsageError(f"{where}: give the reference scores by data set ({', '.join(data_sets)})")
        value = {next(iter(data_sets)): value}
    reference = {}
    for data_name, scores in value.items():
        here = f"{where}: {data_name}" if len(data_sets) > 1 else where
        scores = mapping(scores, here)
        metric = REGISTRY[data_name].metric
        keys = (metric.exact_key, metric.primary_key)
        for key, number in scores.items():
            if key not in keys:
                raise UsageError(f"{here}: unknown key {key!r} ({data_name}'s scores are {', '.join(keys)})")
            if not isinstance(number, (int, float)) or isinstance(number, bool):
                raise UsageError(f"{here}: key {key!r} must be a number, not {number!r}")
        reference[data_name] = dict(scores)
    return reference


def read_grid(value, where):
    grid = {}
    for key, values in mapping(value, where).items():
        if not isinstance(values, list) or not values:
            raise UsageError(f"{where}: key {key!r} must be a non-empty list of values, not {values!r}")
        typed = [read_settings({key: v}, where)[key] for v in values]
        if len(set(map(repr, typed))) != len(typed):
            raise UsageError(f"{where}: key {key!r} gives a value twice")
        grid[key] = tuple(typed)
    return grid


def check_cells(experiment, where):
    """Every cell name is one folder name, and two cells of one data set never share it (two models of the same
    name)."""
    seen = {}
    for cell in experiment.cells:
        if not is_plain_name(cell.name):
            raise UsageError(f"{where}: cell name {cell.name!r} is not a plain folder name (a grid value with / or "
                             "\\?)")
        key = (cell.data_name, cell.name)
        if key in seen:
            raise UsageError(f"{where}: models {seen[key].name!r} and {cell.model.name!r} give the same cell name "
                             f"{cell.name!r}: give one of them another name:")
        seen[key] = cell.model

