"""KorQuAD 2.x zip parts on their own: which members are JSON parts, flat extraction, the refusals that write
nothing, and the completion marker (the downloads that fetch the zips are tested in test_download.py)."""

import json
import stat
import zipfile

import pytest

from korsquad.common.errors import UsageError
from korsquad.data.datasets import RemoteFile
from korsquad.data.zip_parts import extract_json_parts, is_extracted, marker_path, names_from_other_parts

REMOTE = RemoteFile("https://official.invalid/dev_00.zip", "dev/dev_00.zip", "dev")


def write_zip(path, members):
    """members = {name: bytes}, or {name: None} for a symlink member."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            if content is None:
                info = zipfile.ZipInfo(name)
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                archive.writestr(info, "/etc/passwd")
            else:
                archive.writestr(name, content)
    return path


def test_json_members_land_flat_and_everything_else_stays_in_the_zip(tmp_path):
    zip_path = write_zip(tmp_path / "dev_00.zip", {"sub/part_00.json": b'{"data": []}', "readme.txt": b"x",
                                                   "__MACOSX/._part_00.json": b"\0", "._part_01.json": b"\0"})
    assert extract_json_parts(zip_path, tmp_path) == {"part_00.json": 12}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev_00.zip", "part_00.json"]


@pytest.mark.parametrize("member", ["../escape.json", "/abs.json", "a/../../escape.json", "link.json"])
def test_an_unsafe_member_refuses_the_whole_zip_before_anything_is_written(tmp_path, member):
    content = None if member == "link.json" else b"{}"
    zip_path = write_zip(tmp_path / "dev_00.zip", {"good.json": b"{}", member: content})
    with pytest.raises(UsageError, match="unsafe member"):
        extract_json_parts(zip_path, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["dev_00.zip"]


def test_a_part_never_overwrites_what_another_part_extracted(tmp_path):
    (tmp_path / ".dev_00.zip.extracted").write_text(json.dumps({"members": {"dev.json": 2}}))
    zip_path = write_zip(tmp_path / "dev_01.zip", {"dev.json": b"{}"})
    taken = names_from_other_parts(zip_path)
    assert taken == {"dev.json": "dev_00.zip"}
    with pytest.raises(UsageError, match="would overwrite the part extracted from dev_00.zip"):
        extract_json_parts(zip_path, tmp_path, taken)


def test_the_marker_counts_only_while_every_part_it_lists_is_whole(tmp_path):
    zip_path = tmp_path / "dev_00.zip"
    assert not is_extracted(zip_path, REMOTE)
    marker_path(zip_path).write_text(json.dumps({"members": {"part.json": 2}}))
    assert not is_extracted(zip_path, REMOTE)  # the part is missing
    (tmp_path / "part.json").write_bytes(b"{}")
    assert is_extracted(zip_path, REMOTE)
    (tmp_path / "part.json").write_bytes(b"{")  # cut short
    assert not is_extracted(zip_path, REMOTE)
