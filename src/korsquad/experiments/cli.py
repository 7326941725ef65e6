"""Run the cells of an experiment file that are not done (`korsquad experiment FILE`), then write its
results table. `--dry_run` prints the plan and each cell's exact run_qa.py command; `--status` prints where every
cell stands and writes the table; neither runs anything. Exit status 0 when every cell is done, 1 when a cell
failed (a summary names each with its error line), 2 for a bad file or flag (one line, nothing run), 130 when
interrupted."""

import sys

from . import search, slurm
from ._toolkit import ArgumentParser, UsageError, exit_on_usage_error
from .launcher import LocalLauncher, parse_gpu_ids
from .runner import interrupt_on_sigterm
from .spec import load_experiment
from .state import cell_state
from .status import finish, plan_lines, status_lines, summary_line
from .table import write_table


def local_launch(experiment, cells, args):
    launcher = LocalLauncher(parse_gpu_ids(args.gpu_ids) if args.gpu_ids else None, args.retries)
    launcher.check(cells)  # before the plan is printed: a cell that cannot run is one error line
    states = {cell: cell_state(cell) for cell in cells}
    print(summary_line(experiment, cells, states))
    print("\n".join(status_lines(cells, states)), flush=True)
    with interrupt_on_sigterm():
        outcomes = launcher.run(cells)
    return finish(experiment, cells, [o for o in outcomes if o.status != "done"])


def slurm_launch(experiment, cells, args):
    from .slurm import launch

    return launch(experiment, cells, args)


# --launcher NAME: a function (experiment, cells, parsed args) -> exit status
LAUNCHERS = {"local": local_launch, "slurm": slurm_launch}


def load_checked(path, output_dir):
    """The experiment of the file, its search: and slurm: blocks checked too: every mistake in the file is one error
    line before anything runs (spec reads the blocks raw; search and slurm, which stand above it, check them)."""
    experiment = load_experiment(path, output_dir)
    if experiment.search is not None:
        search.check_block(experiment.search, f"{experiment.path}: search", tuple(experiment.grid))
    if experiment.slurm is not None:
        slurm.check_block(experiment.slurm, f"{experiment.path}: slurm")
    return experiment


def build_parser():
    parser = ArgumentParser(prog="korsquad experiment", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="the experiment file (YAML; see experiments/)")
    parser.add_argument("--output_dir", help="where the cells' run folders go (default: the file's output_dir, "
                                             "else runs/<file name>)")
    parser.add_argument("--dry_run", action="store_true", help="print the plan and each cell's exact command; run "
                                                               "nothing")
    parser.add_argument("--status", action="store_true", help="print every cell (done / running / failed / "
                                                              "pending, scores, wall time), write the table; run "
                                                              "nothing")
    parser.add_argument("--launcher", default="local", choices=tuple(LAUNCHERS),
                        help="where cells run: local (this machine; default)")
    parser.add_argument("--gpu_ids", help="GPUs to share among the cells, e.g. 0,1,2,3,4,5,6,7: each cell gets its "
                                          "size's gpus: of them, cells side by side on disjoint groups (default: "
                                          "one cell at a time, with its own device settings)")
    parser.add_argument("--retries", type=int, default=1, help="times a failed cell is tried again (not after bad "
                                                               "input, exit status 2; default 1)")
    search.add_arguments(parser)
    slurm.add_arguments(parser)
    return parser


@exit_on_usage_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.retries < 0:
        raise UsageError(f"--retries must not be negative, not {args.retries}")
    experiment = load_checked(args.file, args.output_dir)
    cells = experiment.cells
    if experiment.search is not None:
        return search.main(experiment, args)
    if args.dry_run or args.status:
        states = {cell: cell_state(cell) for cell in cells}
        print(summary_line(experiment, cells, states))
        if args.dry_run:
            print("\n".join(plan_lines(cells, states, args.gpu_ids)))
            return 0
        print("\n".join(status_lines(cells, states)))
        _, path = write_table(experiment, states)
        print(f"wrote {path}")
        return 0
    try:
        return LAUNCHERS[args.launcher](experiment, cells, args)
    except KeyboardInterrupt:
        print("interrupted: the cells in flight were stopped; run the same command again to continue them",
              file=sys.stderr)
        return 130
