"""The report's figures (korsquad.analysis.report_figures): learning curves from TensorBoard event files, the seed
figure."""

import numpy as np
from report_runs import assert_png, data_name, make_run, run_config

from korsquad.analysis import report_figures
from korsquad.analysis.report import Run
from korsquad.data.datasets import REGISTRY
from korsquad.data.metrics import SQUAD_V1


def test_curves_come_from_the_newest_log_version(tmp_path):
    squad1 = data_name(SQUAD_V1)
    run_dir = make_run(tmp_path, squad1, "rerun", run_config(squad1), curves={"train_loss": [(1, 9.0)]})
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(log_dir=str(run_dir / "logs" / "version_10")) as writer:
        writer.add_scalar("train_loss", 1.5, 7)
    assert report_figures.read_curves(run_dir) == {"train_loss": ([7], [1.5])}


def test_seed_figure_has_a_point_per_seed_and_files_are_png(tmp_path):
    spec = REGISTRY[data_name(SQUAD_V1)]
    runs = [Run(spec.name, f"s{seed}", tmp_path / f"s{seed}", {"config": run_config(spec.name, seed=seed)},
                {"exact_match": 10.0 * seed, "f1": 20.0 * seed}, None) for seed in (1, 2)]
    figure = report_figures.seed_figure(spec, [tuple(runs)])
    from matplotlib.collections import PathCollection

    points = sorted(tuple(xy) for collection in figure.axes[0].collections if isinstance(collection, PathCollection)
                    for xy in collection.get_offsets())
    assert np.allclose(points, [(-0.19, 10.0), (-0.19, 20.0), (0.19, 20.0), (0.19, 40.0)])
    written = report_figures.write_figures(spec, runs, tmp_path)
    assert [title for title, _ in written] == [f"{spec.name} EM/F1", f"{spec.name} EM/F1 over seeds"]
    for _, path in written:
        assert_png(path)
