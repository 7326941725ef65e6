"""The real download code against local HTTP servers on 127.0.0.1 (never the internet).

Each server serves in-memory fixture files and can misbehave on the first request for a file: drop the connection
half-way, stall past the client's read timeout, or answer a status. Specs are registry specs whose files point at
the fixtures (real sizes and sha256 computed here); the CLI checks use the registry itself with --mirror.
"""

import dataclasses
import errno
import io
import json
import os
import random
import re
import stat
import time
import zipfile

import pytest
from conftest import wrong_modes
from download_helpers import Behaviour, leftovers, no_proxy, serve, sha256

from korsquad.common.errors import UsageError
from korsquad.data import download, zip_parts
from korsquad.data.datasets import REGISTRY, RemoteFile, get_spec, names
from korsquad.data.download import DownloadOptions, build_parser, download_dataset, file_url, resolve_names
from korsquad.data.readers import read_dataset


FAST = DownloadOptions(timeout=5.0, retries=2, retry_wait=0.01, progress=False)
OFFICIAL = "https://official.invalid/dataset/"  # never contacted: every test passes a mirror


def payload(size, seed):
    return random.Random(seed).randbytes(size)


def plain_spec(files, checksums=True):
    """squad_v1.1 with one RemoteFile per split: files = {split: bytes}, served as `<split>-test.json`."""
    remotes = tuple(
        RemoteFile(f"{OFFICIAL}{split}-test.json", f"{split}.json", split,
                   len(data) if checksums else None, sha256(data) if checksums else None)
        for split, data in files.items()
    )
    return dataclasses.replace(get_spec("squad_v1.1"), files=remotes)


def zip_spec(parts):
    """korquad_v2.1 with the given zip parts: parts = {(split, file name): zip bytes}."""
    remotes = tuple(RemoteFile(f"{OFFICIAL}{split}/{name}", f"{split}/{name}", split, len(data), sha256(data))
                    for (split, name), data in parts.items())
    return dataclasses.replace(get_spec("korquad_v2.1"), files=remotes)


def make_zip(members):
    """members = {name: bytes}, or {name: ("symlink", target)} for a symlink member."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            if isinstance(content, tuple):
                info = zipfile.ZipInfo(name)
                info.create_system = 3
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                archive.writestr(info, content[1])
            else:
                archive.writestr(name, content)
    return buffer.getvalue()


def korquad2_document(qid):
    context = "<table><tr><th>그룹</th><td>시나위</td></tr></table><p>신대철은 시나위의 리더이다.</p>"
    return json.dumps({"data": [{"title": "신대철", "url": "https://ko.wikipedia.org/", "context": context,
                                 "qas": [{"id": qid, "question": "신대철은 어떤 그룹의 리더일까?",
                                          "answer": {"text": "시나위", "answer_start": context.index("시나위")}}]}]},
                      ensure_ascii=False).encode("utf-8")


# --- plain files ---------------------------------------------------------------------------------------------------

def test_mirror_address_is_mirror_plus_last_part_of_official_address():
    remote = get_spec("korquad_v2.1").files_for("dev")[0]
    assert file_url(remote) == remote.url
    assert file_url(remote, "http://127.0.0.1:8000/m/") == "http://127.0.0.1:8000/m/KorQuAD_2.1_dev_00.zip"
    with pytest.raises(UsageError, match="--mirror"):
        file_url(remote, "/some/folder")


def test_complete_download_lands_verified_under_final_names(serve, tmp_path):
    files = {"train": payload(300_000, 1), "dev": payload(70_000, 2)}
    behaviour = Behaviour({f"{split}-test.json": data for split, data in files.items()})
    spec = plain_spec(files)
    landed = download_dataset(spec, tmp_path, mirror=serve(behaviour), options=FAST)
    assert landed == {"train": tmp_path / spec.name / "train.json", "dev": tmp_path / spec.name / "dev.json"}
    for split, data in files.items():
        assert landed[split].read_bytes() == data
    assert leftovers(tmp_path) == [f"{spec.name}/dev.json", f"{spec.name}/train.json"]


def test_resume_of_a_partial_file_asks_only_for_the_rest(serve, tmp_path):
    data = payload(200_000, 3)
    behaviour = Behaviour({"dev-test.json": data})
    spec = plain_spec({"dev": data})
    part = tmp_path / spec.name / "dev.json.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:123_456])
    download_dataset(spec, tmp_path, mirror=serve(behaviour), options=FAST)
    assert behaviour.log == [("dev-test.json", "bytes=123456-", 206)]
    assert (tmp_path / spec.name / "dev.json").read_bytes() == data
    assert not part.exists()


def test_complete_partial_file_of_known_size_is_verified_without_a_request(serve, tmp_path):
    data = payload(20_000, 17)
    behaviour = Behaviour({"dev-test.json": data})
    spec = plain_spec({"dev": data})
    part = tmp_path / spec.name / "dev.json.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data)  # a run killed between the last byte and the rename
    download_dataset(spec, tmp_path, mirror=serve(behaviour), options=FAST)
    assert behaviour.log == []
    assert leftovers(tmp_path) == [f"{spec.name}/dev.json"]


def test_complete_partial_file_of_unknown_size_is_recognized_from_the_416_answer(serve, tmp_path):
    data = payload(20_000, 18)
    behaviour = Behaviour({"dev-test.json": data})
    spec = plain_spec({"dev": data}, checksums=False)
    part = tmp_path / spec.name / "dev.json.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data)
    download_dataset(spec, tmp_path, mirror=serve(behaviour), options=FAST)
    assert behaviour.log == [("dev-test.json", "bytes=20000-", 416)]
    assert (tmp_path / spec.name / "dev.json").read_bytes() == data


def test_server_ignoring_range_gets_the_file_from_the_start(serve, tmp_path):
    data = payload(100_000, 4)
    behaviour = Behaviour({"dev-test.json": data}, honour_range=False)
    spec = plain_spec({"dev": data})
    part = tmp_path / spec.name / "dev.json.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:50_000])
    download_dataset(spec, tmp_path, mirror=serve(behaviour), options=FAST)
    assert behaviour.log == [("dev-test.json", "bytes=50000-", 200)]
    assert (tmp_path / spec.name / "dev.json").read_bytes() == data


def test_dropped_connection_is_retried_and_resumed(serve, tmp_path, capsys):
    data = payload(400_000, 5)
    behaviour = Behaviour({"dev-test.json": data}, drop_first=True)
    spec = plain_spec({"dev": data})
    download_dataset(spec, tmp_path, mirror=serve(behaviour), options=FAST)
    (first, second) = behaviour.log
    assert first == ("dev-test.json", None, 200)
    resumed_at = int(re.fullmatch(r"bytes=(\d+)-", second[1]).group(1))
    assert second[2] == 206 and 0 < resumed_at <= 200_000  # what reached the disk before the drop
    assert (tmp_path / spec.name / "dev.json").read_bytes() == data
    assert "Connection broken" in capsys.readouterr().err


def test_stalled_server_hits_the_read_timeout_and_is_retried(serve, tmp_path):
    data = payload(300_000, 6)
    behaviour = Behaviour({"dev-test.json": data}, stall_first=1.0)
    spec = plain_spec({"dev": data})
    started = time.monotonic()
    download_dataset(spec, tmp_path, mirror=serve(behaviour),
                     options=dataclasses.replace(FAST, timeout=0.2))
    assert time.monotonic() - started < 1.0  # did not wait for the stalled answer to end
    assert [entry[2] for entry in behaviour.log] == [200, 206]
    assert (tmp_path / spec.name / "dev.json").read_bytes() == data


def test_busy_server_503_is_retried(serve, tmp_path):
    data = payload(10_000, 7)
    behaviour = Behaviour({"dev-test.json": data}, first_status=503)
    spec = plain_spec({"dev": data})
    download_dataset(spec, tmp_path, mirror=serve(behaviour), options=FAST)
    assert [entry[2] for entry in behaviour.log] == [503, 200]
    assert (tmp_path / spec.name / "dev.json").read_bytes() == data


def test_404_fails_at_once_without_retrying(serve, tmp_path):
    spec = plain_spec({"dev": b"{}"})
    behaviour = Behaviour({})
    with pytest.raises(UsageError, match=r"dev-test\.json: HTTP 404"):
        download_dataset(spec, tmp_path, mirror=serve(behaviour), options=FAST)
    assert len(behaviour.log) == 1
    assert leftovers(tmp_path) == []


def test_no_network_fails_after_the_retries(tmp_path):
    import socket

    with socket.socket() as probe:  # a port on which nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spec = plain_spec({"dev": b"{}"})
    with pytest.raises(UsageError, match=r"after 3 attempts: .*Connection refused"):
        download_dataset(spec, tmp_path, mirror=f"http://127.0.0.1:{port}", options=FAST)
    assert not (tmp_path / spec.name / "dev.json").exists()


def test_checksum_mismatch_removes_the_download(serve, tmp_path):
    data = payload(50_000, 8)
    wrong = payload(50_000, 9)  # same size: only the sha256 tells
    behaviour = Behaviour({"dev-test.json": wrong})
    spec = plain_spec({"dev": data})
    with pytest.raises(UsageError, match=f"sha256 mismatch: got {sha256(wrong)}, expected {sha256(data)}"):
        download_dataset(spec, tmp_path, mirror=serve(behaviour), options=FAST)
    assert leftovers(tmp_path) == []


def test_size_mismatch_is_refused_before_the_body(serve, tmp_path):
    data = payload(50_000, 10)
    behaviour = Behaviour({"dev-test.json": data + b"extra"})
    with pytest.raises(UsageError, match="server offers 50005 bytes, expected 50000"):
        download_dataset(plain_spec({"dev": data}), tmp_path, mirror=serve(behaviour), options=FAST)
    assert leftovers(tmp_path) == []


def test_stale_partial_file_is_downloaded_again_from_the_start(serve, tmp_path):
    data = payload(80_000, 11)
    behaviour = Behaviour({"dev-test.json": data})
    spec = plain_spec({"dev": data})
    part = tmp_path / spec.name / "dev.json.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(payload(30_000, 12))  # bytes of some other version of the file
    download_dataset(spec, tmp_path, mirror=serve(behaviour), options=FAST)
    assert behaviour.log == [("dev-test.json", "bytes=30000-", 206), ("dev-test.json", None, 200)]
    assert (tmp_path / spec.name / "dev.json").read_bytes() == data


def test_second_run_skips_a_verified_file_without_a_request(serve, tmp_path, capsys):
    data = payload(60_000, 13)
    behaviour = Behaviour({"dev-test.json": data})
    spec = plain_spec({"dev": data})
    mirror = serve(behaviour)
    download_dataset(spec, tmp_path, mirror=mirror, options=FAST)
    download_dataset(spec, tmp_path, mirror=mirror, options=FAST)
    assert len(behaviour.log) == 1
    assert "already downloaded and verified" in capsys.readouterr().out


def test_corrupted_final_file_is_downloaded_again(serve, tmp_path):
    data = payload(60_000, 14)
    behaviour = Behaviour({"dev-test.json": data})
    spec = plain_spec({"dev": data})
    mirror = serve(behaviour)
    download_dataset(spec, tmp_path, mirror=mirror, options=FAST)
    final = tmp_path / spec.name / "dev.json"
    final.write_bytes(data[:-1] + b"!")
    download_dataset(spec, tmp_path, mirror=mirror, options=FAST)
    assert len(behaviour.log) == 2
    assert final.read_bytes() == data


def test_without_checksum_a_sidecar_marks_the_completed_file(serve, tmp_path):
    data = payload(40_000, 15)
    behaviour = Behaviour({"dev-test.json": data})
    spec = plain_spec({"dev": data}, checksums=False)
    mirror = serve(behaviour)
    download_dataset(spec, tmp_path, mirror=mirror, options=FAST)
    sidecar = json.loads((tmp_path / spec.name / ".dev.json.verified").read_text())
    assert (sidecar["size"], sidecar["sha256"]) == (len(data), sha256(data))
    download_dataset(spec, tmp_path, mirror=mirror, options=FAST)
    assert len(behaviour.log) == 1
    # a file under the final name that the sidecar does not describe is not trusted
    (tmp_path / spec.name / "dev.json").write_bytes(data[:100])
    download_dataset(spec, tmp_path, mirror=mirror, options=FAST)
    assert len(behaviour.log) == 2
    assert (tmp_path / spec.name / "dev.json").read_bytes() == data


def test_downloads_and_their_records_have_the_mode_the_umask_gives(serve, tmp_path, umask):
    """The files, the sidecar of a file without a checksum, the extracted parts and their completion markers: 0644
    under umask 022, 0600 under 077, as an ordinary open() makes them (folders 0755, 0700)."""
    data = payload(40_000, 17)
    download_dataset(plain_spec({"dev": data}, checksums=False), tmp_path,
                     mirror=serve(Behaviour({"dev-test.json": data})), options=FAST)
    parts = {("dev", "KorQuAD_2.1_dev_00.zip"): make_zip({"korquad2.1_dev_00.json": korquad2_document("q0")})}
    download_dataset(zip_spec(parts), tmp_path, mirror=serve(Behaviour({name: zipped for (_, name), zipped
                                                                         in parts.items()})), options=FAST)
    assert {".dev.json.verified", "dev.json", ".KorQuAD_2.1_dev_00.zip.extracted",
            "korquad2.1_dev_00.json"} <= {p.name for p in tmp_path.rglob("*")}
    assert wrong_modes(tmp_path, umask) == {}


def test_disk_full_while_writing_is_one_clear_error(serve, tmp_path, monkeypatch):
    data = payload(50_000, 16)

    class FullDisk(io.BytesIO):
        def write(self, chunk):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    real_open = open
    monkeypatch.setattr(download, "open", lambda path, mode="r", *a, **k:
                        FullDisk() if "w" in mode or "a" in mode else real_open(path, mode, *a, **k), raising=False)
    spec = plain_spec({"dev": data})
    with pytest.raises(UsageError, match="cannot write .*dev.json.part: No space left on device"):
        download_dataset(spec, tmp_path, mirror=serve(Behaviour({"dev-test.json": data})), options=FAST)
    assert not (tmp_path / spec.name / "dev.json").exists()


def test_unknown_split_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="--split 'test'"):
        download_dataset(plain_spec({"dev": b"{}"}), tmp_path, splits=["test"], options=FAST)


# --- KorQuAD 2.x zip parts -----------------------------------------------------------------------------------------

def test_zip_part_is_extracted_with_its_completion_marker(serve, tmp_path, capsys):
    parts = {
        ("dev", "KorQuAD_2.1_dev_00.zip"): make_zip({"korquad2.1_dev_00.json": korquad2_document("q0"),
                                                     "__MACOSX/._korquad2.1_dev_00.json": b"\0\5\26\7",
                                                     "readme.txt": b"not a part"}),
        ("dev", "KorQuAD_2.1_dev_01.zip"): make_zip({"sub/korquad2.1_dev_01.json": korquad2_document("q1")}),
    }
    spec = zip_spec(parts)
    behaviour = Behaviour({name: data for (_, name), data in parts.items()})
    mirror = serve(behaviour)
    landed = download_dataset(spec, tmp_path, mirror=mirror, options=FAST)
    dev = tmp_path / spec.name / "dev"
    assert landed == {"dev": dev}
    assert leftovers(dev) == [".KorQuAD_2.1_dev_00.zip.extracted", ".KorQuAD_2.1_dev_01.zip.extracted",
                              "korquad2.1_dev_00.json", "korquad2.1_dev_01.json"]  # zips gone, JSON kept, flat
    marker = json.loads((dev / ".KorQuAD_2.1_dev_00.zip.extracted").read_text())
    assert marker["members"] == {"korquad2.1_dev_00.json": len(korquad2_document("q0"))}
    examples, _ = read_dataset(dev, spec)
    assert [e.id for e in examples] == ["q0", "q1"] and examples[0].answers[0].text == "시나위"
    download_dataset(spec, tmp_path, mirror=mirror, options=FAST)
    assert len(behaviour.log) == 2  # the second run asked for nothing
    assert "already downloaded and extracted" in capsys.readouterr().out


def test_half_extracted_folder_is_not_taken_as_complete(serve, tmp_path):
    document = korquad2_document("q0")
    parts = {("dev", "KorQuAD_2.1_dev_00.zip"): make_zip({"korquad2.1_dev_00.json": document})}
    spec = zip_spec(parts)
    dev = tmp_path / spec.name / "dev"
    dev.mkdir(parents=True)
    (dev / "korquad2.1_dev_00.json").write_bytes(document[:10])  # what a killed extraction leaves
    behaviour = Behaviour({"KorQuAD_2.1_dev_00.zip": parts[("dev", "KorQuAD_2.1_dev_00.zip")]})
    download_dataset(spec, tmp_path, mirror=serve(behaviour), options=FAST)
    assert len(behaviour.log) == 1
    assert (dev / "korquad2.1_dev_00.json").read_bytes() == document
    assert (dev / ".KorQuAD_2.1_dev_00.zip.extracted").is_file()


def test_failed_extraction_leaves_no_marker_and_resumes_from_the_verified_zip(serve, tmp_path, monkeypatch):
    parts = {("dev", "KorQuAD_2.1_dev_00.zip"): make_zip({"a.json": korquad2_document("q0")})}
    spec = zip_spec(parts)
    behaviour = Behaviour({"KorQuAD_2.1_dev_00.zip": parts[("dev", "KorQuAD_2.1_dev_00.zip")]})
    mirror = serve(behaviour)
    real_open = open

    def open_with_full_disk(path, mode="r", *args, **kwargs):
        if str(path).endswith(".tmp"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(zip_parts, "open", open_with_full_disk, raising=False)
    with pytest.raises(UsageError, match="cannot extract .*No space left on device"):
        download_dataset(spec, tmp_path, mirror=mirror, options=FAST)
    dev = tmp_path / spec.name / "dev"
    assert leftovers(dev) == ["KorQuAD_2.1_dev_00.zip"]  # the verified zip, no marker, no JSON, no temporary file
    monkeypatch.undo()
    download_dataset(spec, tmp_path, mirror=mirror, options=FAST)
    assert len(behaviour.log) == 1
    assert leftovers(dev) == [".KorQuAD_2.1_dev_00.zip.extracted", "a.json"]


@pytest.mark.parametrize("member", ["../escape.json", "/etc/escape.json", "C:\\escape.json", "a/../../escape.json",
                                    "link.json"])
def test_unsafe_zip_member_is_rejected_before_anything_is_written(serve, tmp_path, member):
    content = ("symlink", "/etc/passwd") if member == "link.json" else b"{}"
    zip_bytes = make_zip({"good.json": korquad2_document("q0"), member: content})
    spec = zip_spec({("dev", "KorQuAD_2.1_dev_00.zip"): zip_bytes})
    target = tmp_path / "data"
    with pytest.raises(UsageError, match="unsafe member"):
        download_dataset(spec, target, mirror=serve(Behaviour({"KorQuAD_2.1_dev_00.zip": zip_bytes})),
                         options=FAST)
    assert leftovers(tmp_path) == [f"data/{spec.name}/dev/KorQuAD_2.1_dev_00.zip"]


def test_part_that_would_overwrite_another_parts_json_is_refused(serve, tmp_path):
    parts = {("dev", f"KorQuAD_2.1_dev_0{i}.zip"): make_zip({"dev.json": korquad2_document(f"q{i}")})
             for i in range(2)}
    with pytest.raises(UsageError, match="would overwrite the part extracted from KorQuAD_2.1_dev_00.zip"):
        download_dataset(zip_spec(parts), tmp_path, options=FAST,
                         mirror=serve(Behaviour({name: data for (_, name), data in parts.items()})))
    assert json.loads((tmp_path / "korquad_v2.1" / "dev" / "dev.json").read_text())["data"][0]["qas"][0]["id"] == "q0"


def test_zip_without_json_parts_is_refused(serve, tmp_path):
    zip_bytes = make_zip({"readme.txt": b"nothing here"})
    spec = zip_spec({("dev", "KorQuAD_2.1_dev_00.zip"): zip_bytes})
    with pytest.raises(UsageError, match=r"holds no \*\.json part"):
        download_dataset(spec, tmp_path, mirror=serve(Behaviour({"KorQuAD_2.1_dev_00.zip": zip_bytes})),
                         options=FAST)


def test_every_family_downloads_into_the_default_data_dir_and_only_its_own_names():
    for family in {spec.family for spec in REGISTRY.values()}:
        assert build_parser(family).parse_args([]).download_dir == "./data"
    assert resolve_names("klue", None) == ["klue_mrc"]
    with pytest.raises(UsageError, match="not a klue data set"):
        resolve_names("klue", ["korquad_v1.0"])


def test_default_data_sets_come_from_the_registry():
    assert resolve_names("squad", None) == names("squad")
    assert resolve_names("korquad", None) == ["korquad_v1.0"]  # KorQuAD 2.x only when asked
    assert resolve_names("klue", None) == ["klue_mrc"]
    assert resolve_names("korquad", ["korquad_v2.1"]) == ["korquad_v2.1"]
    with pytest.raises(UsageError, match="not a squad data set"):
        resolve_names("squad", ["korquad_v1.0"])
