"""--logger: the names the config accepts, the extras a missing package names (before any model loads), and one
training whose scalars and settings are read back from TensorBoard, CSV and (with the test extra) MLflow."""

import csv
import json
import os

import pytest
import yaml
from conftest import FIXTURES, data_dir_with, mlflow_installed, run_cli, scalars


# every scalar a CPU training logs (mfu needs a GPU's peak FLOP/s)
SCALARS = ("train_loss", "lr", "val_em", "val_f1", "samples_per_sec", "tokens_per_sec")


def test_a_missing_package_is_one_line_and_exit_2_before_the_model_loads(tmp_path):
    # sys.modules[name] = None: find_spec says "not installed" and `import mlflow` fails, as without the extra
    (tmp_path / "hide").mkdir()
    (tmp_path / "hide" / "sitecustomize.py").write_text("import sys\nsys.modules['mlflow'] = None\n")
    data_dir = data_dir_with(tmp_path, "squad_v1.1", FIXTURES / "squad_v1_tiny.json", FIXTURES / "squad_v1_tiny.json")
    result = run_cli("--model_type", "bert", "--model_name_or_path", tmp_path / "no-such-model", "--data_name",
                     "squad_v1.1", "--data_dir", data_dir, "--output_dir", tmp_path / "model", "--do_train",
                     "--logger", "tensorboard,mlflow", env={"PYTHONPATH": os.pathsep.join(
                         [str(tmp_path / "hide"), *filter(None, [os.environ.get("PYTHONPATH")])])})
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.strip() == "error: --logger mlflow needs the mlflow package: pip install 'korsquad[mlflow]'"
    assert not (tmp_path / "model").exists()  # nothing written, no model looked for


@pytest.fixture(scope="module")
def trained(squad_run):
    """conftest's shared training: logged to TensorBoard, CSV and, when the test extra installed it, MLflow (with
    --log_model: the run's files to MLflow at its end, into a file store in the run folder)."""
    _, run_dir = squad_run
    return run_dir, json.loads((run_dir / "run.json").read_text())["config"]


@pytest.mark.slow
def test_tensorboard_still_gets_every_scalar(trained):
    run_dir, _ = trained
    for tag in SCALARS:
        assert scalars(run_dir, tag), tag


@pytest.mark.slow
def test_tensorboards_epoch_is_the_fractional_epoch_of_each_logging_point(trained):
    """One epoch of train_steps optimizer steps (no accumulation), logged every 2 steps: the `epoch` scalar at step
    s is s / train_steps, as the progress line shows it."""
    run_dir, _ = trained
    steps = json.loads((run_dir / "run.json").read_text())["train_steps"]
    epochs = scalars(run_dir, "epoch")
    assert [step for step, _ in epochs] == list(range(2, steps + 1, 2))
    assert [value for _, value in epochs] == pytest.approx([step / steps for step, _ in epochs])


@pytest.mark.slow
def test_csv_holds_every_scalar_and_the_resolved_settings(trained):
    run_dir, settings = trained
    (version,) = (run_dir / "csv_logs").iterdir()
    with open(version / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for column in SCALARS:
        assert any(row.get(column) for row in rows), column
    assert settings["logger"] == "tensorboard,csv" + (",mlflow" if mlflow_installed() else "")
    # the whole resolved configuration, not Lightning's default (the LightningModule's init arguments)
    assert yaml.safe_load((version / "hparams.yaml").read_text()) == settings


@pytest.mark.slow
def test_mlflow_file_store_holds_every_scalar_and_the_resolved_settings(trained, monkeypatch):
    pytest.importorskip("mlflow", reason="the mlflow logger is an extra: pip install -e '.[test]'")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    run_dir, settings = trained
    client = MlflowClient(tracking_uri=(run_dir / "mlruns").as_uri())
    experiment = client.get_experiment_by_name("korsquad")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "tiny" and run.info.status == "FINISHED"
    for key in SCALARS:
        assert client.get_metric_history(run.info.run_id, key), key
    assert run.data.params == {key: str(value) for key, value in settings.items()}


@pytest.mark.slow
def test_log_model_sends_the_results_predictions_and_best_model_to_mlflow(trained, monkeypatch, tmp_path):
    pytest.importorskip("mlflow", reason="the mlflow logger is an extra: pip install -e '.[test]'")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    run_dir, _ = trained
    client = MlflowClient(tracking_uri=(run_dir / "mlruns").as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("korsquad").experiment_id])
    run_id = run.info.run_id
    assert {a.path for a in client.list_artifacts(run_id)} == {
        "result.json", "predictions_eval.json", "nbest_predictions_eval.json", "best_model"}
    model_files = {a.path for a in client.list_artifacts(run_id, "best_model")}
    assert model_files == {f"best_model/{f.name}" for f in (run_dir / "best_model").iterdir()}
    assert {"best_model/model.safetensors", "best_model/README.md", "best_model/config.json"} <= model_files
    result = client.download_artifacts(run_id, "result.json", str(tmp_path))
    assert json.loads(open(result).read()) == json.loads((run_dir / "result.json").read_text())
