"""The upload of best_model/ (korsquad.serving.hub): --push_to_hub checked before training, the upload against a stub of
the Hub's HTTP API on 127.0.0.1, and its failures as one line that loses nothing."""

from types import SimpleNamespace

import pytest
from hub_stub import StubHub, unused_port

from korsquad.common.errors import UsageError


@pytest.fixture
def hub_env(monkeypatch):
    """huggingface_hub in this process pointed at an endpoint (set by the test) with a token, online."""
    from huggingface_hub import constants
    from huggingface_hub.utils import reset_sessions

    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    reset_sessions()
    yield lambda endpoint: monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    reset_sessions()


def test_push_to_hub_creates_the_repo_and_uploads_the_folder(hub_env, tmp_path):
    from korsquad.serving.hub import push_to_hub

    (tmp_path / "best_model").mkdir()
    (tmp_path / "best_model" / "README.md").write_text("---\nlicense: cc-by-sa-4.0\n---\n# m\n")
    (tmp_path / "best_model" / "config.json").write_text("{}")
    hub = StubHub()
    try:
        hub_env(hub.url)
        url = push_to_hub("me/model", tmp_path / "best_model")
    finally:
        hub.close()
    assert url == f"{hub.url}/me/model" and hub.repos == ["me/model"]
    assert set(hub.files) == {"README.md", "config.json"} and hub.files["config.json"] == b"{}"
    assert {auth for _, auth in hub.requests} == {"Bearer hf_test_token"}


def test_push_to_hub_failures_are_one_line_and_keep_the_files(hub_env, tmp_path):
    from korsquad.serving.hub import push_to_hub

    folder = tmp_path / "best_model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    port = unused_port()
    hub_env(f"http://127.0.0.1:{port}")
    with pytest.raises(UsageError) as refused:
        push_to_hub("me/model", folder)
    message = str(refused.value)
    assert message.startswith(f"--push_to_hub me/model: cannot reach http://127.0.0.1:{port} (")
    assert "\n" not in message and str(folder.parent) in message and "hf upload me/model" in message
    hub = StubHub(reject=401)
    try:
        hub_env(hub.url)
        with pytest.raises(UsageError, match=r"--push_to_hub me/model: 401 Client Error"):
            push_to_hub("me/model", folder)
    finally:
        hub.close()
    assert (folder / "config.json").read_text() == "{}"


def test_push_to_hub_is_checked_before_training(monkeypatch, tmp_path):
    from huggingface_hub import constants

    from korsquad.config.runconfig import resolve
    from korsquad.serving.hub import check_push

    with pytest.raises(UsageError, match="--push_to_hub must be a Hub repository id like user/name"):
        resolve(["--model_type", "bert", "--model_name_or_path", str(tmp_path), "--data_name", "squad_v1.1",
                 "--do_train", "--push_to_hub", "not a repo"])
    config = SimpleNamespace(push_to_hub="me/model", do_train=True)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(UsageError, match="HF_HUB_OFFLINE is set"):
        check_push(config)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no_token"))
    with pytest.raises(UsageError, match="no Hugging Face token"):
        check_push(config)
    with pytest.raises(UsageError, match="give it with --do_train"):
        check_push(SimpleNamespace(push_to_hub="me/model", do_train=False))
    monkeypatch.setenv("HF_TOKEN", "hf_x")
    check_push(config)
