"""korsquad.runs.folder: where a run's files are, the best checkpoint's record, run.json and evaluations.json, and
what a training may do to a folder that already holds files."""

import json

import pytest

from korsquad.common.errors import UsageError
from korsquad.runs.folder import EVAL_SPLIT, PREDICT_SPLIT, RunFolder, run_folders


def trained_folder(tmp_path, data_name="squad_v1.1", run_name="run", **config):
    """A run folder whose run.json records a training of this folder (as run_qa.py writes it)."""
    folder = RunFolder.of(tmp_path / "model", data_name, run_name)
    folder.root.mkdir(parents=True)
    folder.write_record({"config": dict(dict(do_train=True, data_name=data_name, run_name=run_name), **config),
                         "status": "finished"}, evaluation_only=False)
    return folder


# ---- the run root and the paths in it ---------------------------------------------------------------------------
def test_the_run_root_is_output_dir_data_name_run_name(tmp_path):
    folder = RunFolder.of(tmp_path / "model", "korquad_v1.0", "bert-base")
    assert folder.root == tmp_path / "model" / "korquad_v1.0" / "bert-base"
    assert (folder.data_name, folder.run_name) == ("korquad_v1.0", "bert-base")
    assert RunFolder.of("out", "squad_v2.0", "r").root.as_posix() == "out/squad_v2.0/r"  # as given: not resolved


def test_the_files_of_a_run_folder(tmp_path):
    folder = RunFolder(tmp_path)
    names = {path.relative_to(tmp_path).as_posix() for path in (
        folder.run_json, folder.result_json, folder.evaluations_json, folder.logs_dir, folder.csv_logs_dir,
        folder.mlflow_dir, folder.wandb_dir, folder.last_checkpoint, folder.best_checkpoint_file, folder.best_record,
        folder.model_card)}
    assert names == {"run.json", "result.json", "evaluations.json", "logs", "csv_logs", "mlruns", "wandb",
                     "checkpoints/last.ckpt", "checkpoints/best.ckpt", "checkpoints/best_checkpoint.json",
                     "best_model/README.md"}
    assert folder.best_model_dir == tmp_path / "best_model" and folder.checkpoints_dir == tmp_path / "checkpoints"


def test_prediction_files_keep_the_2021_names_and_predict_has_its_own():
    folder = RunFolder("run")
    assert [p.name for p in (folder.predictions(), folder.nbest(), folder.null_odds())] == \
        ["predictions_eval.json", "nbest_predictions_eval.json", "null_odds_eval.json"]
    assert folder.predictions(EVAL_SPLIT) == folder.predictions()
    assert folder.predictions(PREDICT_SPLIT).name == "predictions_predict.json"
    assert folder.nbest(PREDICT_SPLIT).name == "nbest_predictions_predict.json"


def test_run_folders_are_every_folder_two_levels_down_in_order(tmp_path):
    for path in ("b/z", "b/a", "a/x", "a/y/deeper"):
        (tmp_path / path).mkdir(parents=True)
    (tmp_path / "a" / "file.txt").write_text("not a folder")
    (tmp_path / "loose.json").write_text("{}")
    found = [(f.data_name, f.run_name) for f in run_folders(tmp_path)]
    assert found == [("a", "x"), ("a", "y"), ("b", "a"), ("b", "z")]


def test_a_run_folder_is_one_a_run_wrote_and_is_the_same_however_spelled(tmp_path, monkeypatch):
    folder = trained_folder(tmp_path)
    assert folder.is_run_folder() and folder.output_dir == tmp_path / "model"
    assert not RunFolder(tmp_path / "model" / "squad_v1.1" / "plain").is_run_folder()
    monkeypatch.chdir(tmp_path / "model")
    assert RunFolder("squad_v1.1/run").is_same(folder) and RunFolder("squad_v1.1/../squad_v1.1/run").is_same(folder)
    assert not RunFolder("squad_v1.1/other").is_same(folder)


# ---- the best checkpoint -----------------------------------------------------------------------------------------
def test_the_best_checkpoint_is_recorded_relative_and_found_after_a_move(tmp_path):
    folder = trained_folder(tmp_path)
    folder.checkpoints_dir.mkdir()
    folder.best_checkpoint_file.write_bytes(b"weights")
    folder.record_best(folder.best_checkpoint_file, "f1", 91.5, 2, 300)
    assert json.loads(folder.best_record.read_text()) == {"path": "checkpoints/best.ckpt", "metric": "f1",
                                                         "score": 91.5, "epoch": 2, "step": 300}
    moved = RunFolder(folder.root.rename(tmp_path / "moved"))
    assert moved.read_best()["path"] == moved.best_checkpoint_file and moved.read_best()["step"] == 300
    assert moved.best_checkpoint() == moved.best_checkpoint_file


def test_no_best_checkpoint_is_one_error_naming_the_folder(tmp_path):
    folder = RunFolder(tmp_path / "empty")
    assert folder.read_best() is None
    with pytest.raises(UsageError, match=r"no trained checkpoint in .*empty: train first with --do_train"):
        folder.best_checkpoint()
    folder.checkpoints_dir.mkdir(parents=True)
    folder.best_record.write_text('{"path": "checkpoints/best.ckpt"}')  # recorded, but the file is gone
    with pytest.raises(UsageError, match="no trained checkpoint"):
        folder.best_checkpoint()
    folder.best_record.write_text('{"score": 1}')
    with pytest.raises(UsageError, match=r"best_checkpoint.json: no \"path\" of the best checkpoint"):
        folder.read_best()


# ---- a training into the folder ----------------------------------------------------------------------------------
def test_a_new_folder_or_one_without_a_training_is_trained_into(tmp_path):
    assert RunFolder(tmp_path / "new").check_training(resume=False, overwrite=False) is False
    evaluated = RunFolder(tmp_path / "evaluated")
    evaluated.write_record({"config": {"do_train": False}}, evaluation_only=True)
    assert evaluated.check_training(resume=False, overwrite=False) is False
    assert evaluated.run_json.is_file()


def test_a_folder_holding_a_training_is_refused_unless_resumed_or_overwritten(tmp_path):
    folder = trained_folder(tmp_path)
    with pytest.raises(UsageError, match="already holds a training run: give --resume .* or --overwrite_output_dir"):
        folder.check_training(resume=False, overwrite=False)
    with pytest.raises(UsageError, match=r"--resume: no .*last.ckpt to continue from"):
        folder.check_training(resume=True, overwrite=False)
    folder.checkpoints_dir.mkdir()
    folder.last_checkpoint.write_bytes(b"state")
    assert folder.check_training(resume=True, overwrite=False) is False  # continues: nothing to remove
    assert folder.last_checkpoint.read_bytes() == b"state"
    assert folder.check_training(resume=False, overwrite=True) is True
    assert folder.last_checkpoint.read_bytes() == b"state"  # removed only when the run starts
    folder.clear()
    assert not folder.root.exists()


def test_checkpoints_alone_mean_a_training_too(tmp_path):
    folder = RunFolder(tmp_path / "model" / "squad_v1.1" / "run")
    folder.checkpoints_dir.mkdir(parents=True)
    folder.last_checkpoint.write_bytes(b"state")
    assert folder.holds_training()
    with pytest.raises(UsageError, match="already holds a training run"):
        folder.check_training(resume=False, overwrite=False)


@pytest.mark.parametrize("config", [{"do_train": True, "data_name": "squad_v1.1", "run_name": "other"},
                                    {"do_train": True, "data_name": "korquad_v1.0", "run_name": "run"}, None])
def test_overwrite_never_removes_a_folder_a_training_did_not_make_as_this_run(tmp_path, config):
    folder = RunFolder.of(tmp_path / "model", "squad_v1.1", "run")
    folder.checkpoints_dir.mkdir(parents=True)
    folder.last_checkpoint.write_bytes(b"someone's state")
    if config is not None:  # a run.json naming another run folder (copied here), or none at all
        folder.write_record({"config": config}, evaluation_only=False)
    with pytest.raises(UsageError, match="was not made as a run folder by run_qa.py .* remove it yourself"):
        folder.check_training(resume=False, overwrite=True)
    assert folder.last_checkpoint.read_bytes() == b"someone's state"


# ---- run.json and evaluations.json -------------------------------------------------------------------------------
def test_an_evaluation_keeps_the_trainings_record_and_adds_its_own(tmp_path):
    folder = trained_folder(tmp_path)
    folder.write_record({"config": {"do_eval": True}, "status": "finished"}, evaluation_only=True)
    record = folder.read_record()
    assert record["config"]["do_train"] and record["evaluation"] == {"config": {"do_eval": True},
                                                                     "status": "finished"}
    alone = RunFolder(tmp_path / "alone")
    alone.write_record({"config": {"do_eval": True}}, evaluation_only=True)
    assert alone.read_record() == {"config": {"do_eval": True}}


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", None])
def test_an_unreadable_run_json_reads_as_none(tmp_path, content):
    folder = RunFolder(tmp_path)
    if content is not None:
        folder.run_json.write_text(content)
    assert folder.read_record() is None and not folder.holds_training()


def test_evaluations_are_appended_and_numbered(tmp_path):
    folder = RunFolder(tmp_path)
    assert folder.read_evaluations() == []
    folder.add_evaluation({"f1": 80.0})
    folder.add_evaluation({"f1": 85.0})
    assert folder.read_evaluations() == [{"f1": 80.0, "label": "evaluation 1"}, {"f1": 85.0, "label": "evaluation 2"}]
    folder.evaluations_json.write_text('[{"f1": 1.0}, "junk", 3]')  # only the entries that are objects count
    assert folder.read_evaluations() == [{"f1": 1.0}]
    folder.evaluations_json.write_text("{broken")
    assert folder.read_evaluations() == []


def test_a_command_reading_a_run_folder_gets_its_record_or_one_line_naming_what_is_wrong(tmp_path):
    """compare and the evaluation page read a run folder through RunFolder.required_record."""
    import json

    import pytest

    from korsquad.common.errors import UsageError
    from korsquad.runs.folder import RunFolder

    folder = RunFolder(tmp_path / "squad_v1.1" / "r")
    with pytest.raises(UsageError, match="run folder not found"):
        folder.required_record()
    folder.root.mkdir(parents=True)
    folder.run_json.write_text(json.dumps({"status": "finished"}))
    with pytest.raises(UsageError, match=r'no "config" object: is .* a run folder of run_qa.py\?'):
        folder.required_record()
    folder.run_json.write_text(json.dumps({"config": {"data_name": "squad_v1.1"}}))
    assert folder.required_record() == {"config": {"data_name": "squad_v1.1"}}
