"""Every saved model knows how it was trained: the README quick start's model trained, then evaluated again from
its run folder, its best.ckpt and its best_model/ folder (elsewhere, without --run_name) with the training's
windows and decoding; every evaluation recorded with what it was measured on; a checkpoint that would run code
refused."""

from pathlib import Path

import pytest

from korsquad.runs.checkpoints import load_checkpoint, plain_json, recorded_model_path
from korsquad.runs.record import MODEL_PATH_KEY


def test_the_model_a_training_started_from_is_the_absolute_path_it_recorded(tmp_path, monkeypatch):
    model = tmp_path / "m"
    model.mkdir()
    assert recorded_model_path({"model_name_or_path": "..", MODEL_PATH_KEY: str(model)}) == str(model)
    assert recorded_model_path({"model_name_or_path": "..", MODEL_PATH_KEY: str(tmp_path / "gone")}) is None
    monkeypatch.chdir(tmp_path)  # ./m is here, yet an earlier record's relative path is never read again
    assert recorded_model_path({"model_name_or_path": "m"}) is None
    assert recorded_model_path({"model_name_or_path": str(model)}) == str(model)
    assert recorded_model_path({"model_name_or_path": "klue/bert-base"}) == "klue/bert-base"


def test_plain_json_names_what_is_not_plain():
    assert plain_json({"a": [1, 2.0, "x", None, True]}) == {"a": [1, 2.0, "x", None, True]}
    with pytest.raises(TypeError, match=r"settings.model_name_or_path is a PosixPath"):
        plain_json({"model_name_or_path": Path("/x")})


def test_a_checkpoint_of_an_earlier_version_with_a_path_hyper_parameter_still_loads(tmp_path):
    """Earlier versions stored the quick start's resolved model path as a PosixPath: a harmless object, accepted."""
    import torch

    older = tmp_path / "older.ckpt"
    torch.save({"hyper_parameters": {"model_name_or_path": Path("/models/minilm")}, "global_step": 7}, older)
    assert load_checkpoint(older)["hyper_parameters"]["model_name_or_path"] == Path("/models/minilm")
