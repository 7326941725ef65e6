"""Cells: one cell is one run folder of the experiment, `<output_dir>/<data_name>/<cell name>/`, and the exact
run_qa.py command that trains and evaluates it.

A cell's name is made of its model's name, the grid values and the seed (`bert-base-cased-seed42`,
`roberta-base-learning_rate3e-05-seed1`): the same file always gives the same names, so running it again finds
the cells it ran before. Beside the run folders, `<output_dir>/.cells/<data_name>/` holds each cell's lock, its
record of attempts and its log (korsquad.experiments.lock / record).
"""

import dataclasses
import itertools
import sys
from pathlib import Path

from ._toolkit import OPTIONS_BY_NAME, RUN_QA_MODULE, RunFolder

STATE_FOLDER = ".cells"


@dataclasses.dataclass(frozen=True)
class Cell:
    name: str  # the run folder's name (--run_name)
    data_name: str
    # a cell is known by its run folder (name, data set, output_dir): these are not compared or hashed
    model: object = dataclasses.field(compare=False)  # spec.ModelEntry
    seed: int
    grid_values: dict = dataclasses.field(compare=False)  # {setting: value} of its grid combination
    settings: dict = dataclasses.field(compare=False)  # every run_qa.py setting it is given, place and job included
    gpus: int  # GPUs it trains on when the launcher has GPUs to give (DDP when more than one)
    output_dir: Path

    @property
    def folder(self):
        return RunFolder.of(self.output_dir, self.data_name, self.name)

    @property
    def state_dir(self):
        """Where its lock, record and log are: beside the run folders, not in them (run_qa.py owns those)."""
        return Path(self.output_dir) / STATE_FOLDER / self.data_name

    @property
    def label(self):
        return f"{self.data_name}/{self.name}"

    def command(self, gpu_count=None, resume=False, overwrite=False):
        """The exact argv that runs it: run_qa.py's settings in its --help order, then `--gpu_ids 0,...` for
        `gpu_count` GPUs (the launcher's CUDA_VISIBLE_DEVICES says which; without a count, `--devices` for a cell
        of several GPUs, so that its batches stay those of its size), and --resume or --overwrite_output_dir when
        the run folder holds an interrupted training."""
        argv = [sys.executable, "-m", RUN_QA_MODULE]
        for name in OPTIONS_BY_NAME:
            value = self.settings.get(name)
            if value is None or value is False:
                continue
            argv += [f"--{name}"] if value is True else [f"--{name}", str(value)]
        if gpu_count:
            argv += ["--gpu_ids", ",".join(str(i) for i in range(gpu_count))]
        elif self.gpus > 1 and self.settings.get("devices") is None:
            argv += ["--devices", str(self.gpus)]  # without GPUs to share: Lightning takes the first `gpus` of them
        if resume:
            argv.append("--resume")
        if overwrite:
            argv.append("--overwrite_output_dir")
        return argv

    def variant(self, suffix, settings):
        """This cell with more settings, in a run folder of its own named `<name>-<suffix>` (a search's trial)."""
        name = f"{self.name}-{suffix}"
        merged = dict(self.settings, **settings, run_name=name)
        return dataclasses.replace(self, name=name, settings=merged,
                                   grid_values=dict(self.grid_values, **settings))


def expand(experiment):
    """The experiment's cells, in a fixed order: by data set, model, grid combination, then seed."""
    grid_keys = tuple(experiment.grid)
    cells = []
    for data_name, data_settings in experiment.data_sets.items():
        for model in experiment.models:
            size = experiment.sizes.get(model.size)
            for values in itertools.product(*(experiment.grid[key] for key in grid_keys)):
                grid_values = dict(zip(grid_keys, values))
                for seed in experiment.seeds:
                    name = cell_name(model.name, grid_values, seed)
                    settings = {**experiment.settings, **data_settings, **(size.settings if size else {}),
                                **model.settings, **grid_values, "data_name": data_name, "seed": seed,
                                "output_dir": str(experiment.output_dir), "run_name": name, "do_train": True,
                                "do_eval": True}
                    cells.append(Cell(name, data_name, model, seed, grid_values, settings,
                                      size.gpus if size else 1, Path(experiment.output_dir)))
    return tuple(cells)


def cell_name(model_name, grid_values, seed):
    return "-".join([model_name, *(f"{key}{value}" for key, value in grid_values.items()), f"seed{seed}"])
