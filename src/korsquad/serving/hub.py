"""The upload of a run's best_model/ to the Hugging Face Hub (--push_to_hub): the checks made before anything heavy
loads (`check_push`, called by run_qa.py) and the upload itself, whose failure is one line and loses nothing.
"""

import re
from pathlib import Path

from ..common.errors import UsageError, first_line


def check_push(config):
    """--push_to_hub before any model loads: a repository id, a training to upload, a token, not offline."""
    repo = config.push_to_hub
    if not repo:
        return
    from huggingface_hub import constants, get_token

    if not config.do_train:
        raise UsageError(f"--push_to_hub {repo} uploads the best_model/ of a training: give it with --do_train "
                         f"(to upload a finished run: hf upload {repo} <run folder>/best_model)")
    if constants.HF_HUB_OFFLINE:
        raise UsageError(f"--push_to_hub {repo}: HF_HUB_OFFLINE is set, nothing can be uploaded")
    if get_token() is None:
        raise UsageError(f"--push_to_hub {repo}: no Hugging Face token: set HF_TOKEN or log in with `hf auth login`")


def push_to_hub(repo_id, folder, commit_message=None):
    """Create the model repository if needed (exist_ok) and upload `folder` (best_model/) in one commit, to the Hub
    of HF_ENDPOINT with the token of HF_TOKEN or `hf auth login`. Returns the repository's URL. Any failure is a
    UsageError of one line (`error: --push_to_hub REPO: ...`, exit 2: the upload asked for did not happen); nothing
    local is touched."""
    import requests
    from huggingface_hub import HfApi

    api = HfApi()
    folder = Path(folder)
    try:
        url = api.create_repo(repo_id, exist_ok=True)
        api.upload_folder(repo_id=repo_id, folder_path=str(folder),
                          commit_message=commit_message or f"Upload {folder.name} (KorSQuAD-pl)")
    except (requests.RequestException, ValueError, OSError) as err:
        raise UsageError(f"--push_to_hub {repo_id}: {_upload_failure(err, api.endpoint)}; nothing was lost: every "
                         f"file of the run is in {folder.parent} (upload later with `hf upload {repo_id} "
                         f"{folder}`)") from None
    return str(url)


def _upload_failure(err, endpoint):
    import requests

    if isinstance(err, requests.ConnectionError) and not type(err).__name__ == "OfflineModeIsEnabled":
        cause = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(err))
        return f"cannot reach {endpoint}" + (f" ({cause.group(1).strip()})" if cause else "")
    first = first_line(err)
    server = getattr(err, "server_message", None)
    if server and server.strip() and server.strip() not in first:
        first += f" ({server.strip().splitlines()[0]})"
    return first
