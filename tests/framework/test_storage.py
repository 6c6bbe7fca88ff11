"""The storage layer: one digest check, one tar writer and extractor, one SQLite opener."""

from __future__ import annotations

import ast
import io
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from framework_paths import FRAMEWORK_SRC
from sagepipe.serving.history import DeploymentHistory
from sagepipe.storage import archives
from sagepipe.storage.digests import (
    DigestError,
    bytes_sha256,
    file_sha256,
    manifest_sha256,
    verify_artifact,
)
from sagepipe.storage.sqlite import open_connection, schema_version
from sagepipe.storage.workspace import default_workspace

ENGINE = FRAMEWORK_SRC / "sagepipe"
_STDLIB = frozenset(sys.stdlib_module_names)


# -- digests -------------------------------------------------------------------------------
def test_the_artifact_check_returns_the_digest_of_an_unchanged_file(tmp_path: Path) -> None:
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"weights")
    digest = bytes_sha256(b"weights")
    assert file_sha256(model) == digest
    assert verify_artifact(model, digest.upper(), artifact="model of churn v1") == digest


def test_the_artifact_check_refuses_a_missing_digest_naming_the_artifact_and_fix(
    tmp_path: Path,
) -> None:
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"weights")
    for recorded in (None, ""):
        with pytest.raises(DigestError) as caught:
            verify_artifact(model, recorded, artifact="model of churn v1")
        message = str(caught.value)
        assert "\n" not in message
        assert message.startswith("model of churn v1: no SHA-256 recorded for")
        assert "register the model with model_data_sha256" in message


def test_the_artifact_check_refuses_changed_and_missing_files_with_the_callers_error(
    tmp_path: Path,
) -> None:
    class Refused(Exception):
        pass

    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"edited")
    with pytest.raises(Refused, match="changed after registration"):
        verify_artifact(model, bytes_sha256(b"weights"), artifact="m", error=Refused)
    with pytest.raises(Refused, match="is missing at"):
        verify_artifact(tmp_path / "gone.tar.gz", "ab" * 32, artifact="m", error=Refused)
    with pytest.raises(Refused, match="is missing at None"):
        verify_artifact(None, "ab" * 32, artifact="m", error=Refused)


def test_a_manifest_digest_changes_with_a_name_or_a_content_digest() -> None:
    base = manifest_sha256([("a.csv", "1"), ("b.csv", "2")])
    assert base == bytes_sha256(b"a.csv\x001\nb.csv\x002\n")
    assert manifest_sha256([("a.csv", "1"), ("c.csv", "2")]) != base
    assert manifest_sha256([("a.csv", "1"), ("b.csv", "3")]) != base
    assert manifest_sha256([("a.csv", "1")], header=b"v1\n") == bytes_sha256(b"v1\na.csv\x001\n")


# -- the writer ----------------------------------------------------------------------------
def test_packed_folders_are_byte_identical_whatever_their_timestamps(tmp_path: Path) -> None:
    for name, when in (("one", 1_000_000), ("two", 2_000_000)):
        folder = tmp_path / name
        (folder / "code").mkdir(parents=True)
        (folder / "model.joblib").write_bytes(b"m")
        (folder / "code" / "serve.sh").write_text("#!/bin/sh\n")
        os.chmod(folder / "code" / "serve.sh", 0o700)
        for path in folder.rglob("*"):
            os.utime(path, (when, when))
        archives.pack_folder(folder, tmp_path / f"{name}.tar.gz")
    one = (tmp_path / "one.tar.gz").read_bytes()
    assert one == (tmp_path / "two.tar.gz").read_bytes()
    with tarfile.open(tmp_path / "one.tar.gz") as tar:
        assert tar.format == tarfile.PAX_FORMAT
        members = {m.name: (m.mode, m.mtime, m.uid, m.gid, m.uname) for m in tar.getmembers()}
    assert members == {
        "code": (0o755, 0, 0, 0, ""),
        "code/serve.sh": (0o755, 0, 0, 0, ""),
        "model.joblib": (0o644, 0, 0, 0, ""),
    }


def test_packing_a_folder_refuses_a_link_with_the_callers_error(tmp_path: Path) -> None:
    class JobFailed(Exception):
        pass

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "link").symlink_to("/etc/passwd")
    with pytest.raises(JobFailed, match="neither a file nor a folder"):
        archives.pack_folder(folder, tmp_path / "model.tar.gz", error=JobFailed)


def test_bytes_and_folders_go_through_the_same_writer(tmp_path: Path) -> None:
    folder = tmp_path / "tree"
    folder.mkdir()
    (folder / "a.py").write_bytes(b"1")
    archives.pack_folder(folder, tmp_path / "tree.tar.gz")
    assert archives.tar_gz_bytes({"a.py": b"1"}) == (tmp_path / "tree.tar.gz").read_bytes()


# -- the extractor -------------------------------------------------------------------------
def _archive(tmp_path: Path, *members: tarfile.TarInfo, data: bytes = b"abc") -> Path:
    path = tmp_path / "in.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            if member.isfile():
                member.size = len(data)
                tar.addfile(member, io.BytesIO(data))
            else:
                tar.addfile(member)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.mark.parametrize(
    ("member", "refusal"),
    [
        (_member("/etc/evil"), "unsafe path"),
        (_member("../outside.txt"), "unsafe path"),
        (_member("a/../../outside.txt"), "unsafe path"),
        (_member("inside", tarfile.SYMTYPE, "model.joblib"), "a symbolic link"),
        (_member("out", tarfile.SYMTYPE, "/etc/passwd"), "a symbolic link"),
        (_member("hard", tarfile.LNKTYPE, "model.joblib"), "a hard link"),
        (_member("dev", tarfile.CHRTYPE), "a device or FIFO"),
        (_member("fifo", tarfile.FIFOTYPE), "a device or FIFO"),
    ],
)
def test_the_extractor_refuses_unsafe_members_before_writing_anything(
    tmp_path: Path, member: tarfile.TarInfo, refusal: str
) -> None:
    archive = _archive(tmp_path, _member("model.joblib"), member)
    dest = tmp_path / "out"
    with pytest.raises(archives.ArchiveError, match=refusal) as caught:
        archives.extract(archive, dest)
    assert "\n" not in str(caught.value)
    assert list(dest.iterdir()) == []  # the safe member before it was not written either
    assert not (tmp_path / "outside.txt").exists()


def test_the_extractor_refuses_an_archive_bomb(tmp_path: Path) -> None:
    archive = _archive(tmp_path, _member("a"), _member("b"), data=b"x" * 600)
    with pytest.raises(archives.ArchiveError, match="more than 1000 bytes"):
        archives.extract(archive, tmp_path / "out", max_bytes=1000)
    archives.extract(archive, tmp_path / "ok", max_bytes=1200)
    assert (tmp_path / "ok" / "b").read_bytes() == b"x" * 600


def test_the_extractor_refuses_a_corrupt_archive_with_the_callers_error(tmp_path: Path) -> None:
    class Refused(Exception):
        pass

    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(archives.tar_gz_bytes({"a.py": b"1" * 5000})[:40])
    with pytest.raises(Refused, match="is not a readable tar archive"):
        archives.extract(broken, tmp_path / "out", error=Refused)


def test_packed_folders_unpack_to_the_same_tree(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    (folder / "code").mkdir(parents=True)
    (folder / "code" / "inference.py").write_text("x = 1\n")
    archives.pack_folder(folder, tmp_path / "model.tar.gz")
    archives.extract(tmp_path / "model.tar.gz", tmp_path / "again")
    assert (tmp_path / "again" / "code" / "inference.py").read_text() == "x = 1\n"


# -- SQLite --------------------------------------------------------------------------------
def test_the_deployment_history_opens_sqlite_like_every_other_store(tmp_path: Path) -> None:
    path = tmp_path / "ws" / "deployments.db"
    history = DeploymentHistory(path)
    history.record(action="deploy", stage="staging", endpoint="e", group="g", version=1)
    assert [d.version for d in history.deployments()] == [1]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    conn = open_connection(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert schema_version(conn, "deployments") == 1
    finally:
        conn.close()


def test_only_storage_sqlite_opens_sqlite_and_only_archives_unpacks_tars() -> None:
    opened, unpacked = [], []
    for path in ENGINE.rglob("*.py"):
        text = path.read_text()
        relative = path.relative_to(ENGINE).as_posix()
        if "sqlite3.connect(" in text and relative != "storage/sqlite.py":
            opened.append(relative)
        if ".extractall(" in text and relative != "storage/archives.py":
            unpacked.append(relative)
    assert (opened, unpacked) == ([], [])


def test_storage_imports_only_the_standard_library_and_sagepipe_private() -> None:
    for path in (ENGINE / "storage").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                # ``.sqlite`` is a sibling; ``..private`` the one module allowed above.
                target = "." * node.level + (node.module or "")
                assert node.level == 1 or target == "..private", f"{path.name}: {target}"
            elif isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] in {"__future__", *_STDLIB}, path.name
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] in _STDLIB, f"{path.name}: {alias.name}"


def _sagepipe_modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(m for m in sys.modules if 'sagepipe' in m))"
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(FRAMEWORK_SRC)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return set(result.stdout.split())


def test_the_registry_builds_on_storage_not_on_the_local_executor() -> None:
    loaded = _sagepipe_modules_after("import sagepipe.registry")
    assert "sagepipe.storage.sqlite" in loaded
    assert not {m for m in loaded if m.startswith("sagepipe.local")}


def test_a_transform_job_process_does_not_load_the_executor() -> None:
    # ``python -m sagepipe.local.transform_job`` starts once per Transform step.
    loaded = _sagepipe_modules_after("import sagepipe.local.transform_job")
    assert "sagepipe.local.executor" not in loaded
    assert "sagepipe.registry" not in loaded


# -- the workspace -------------------------------------------------------------------------
def test_the_workspace_is_the_environment_override_else_mlops_in_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SAGEPIPE_WORKSPACE", raising=False)
    assert default_workspace(tmp_path) == tmp_path / ".mlops"
    assert default_workspace() == Path(".mlops")
    monkeypatch.setenv("SAGEPIPE_WORKSPACE", str(tmp_path / "elsewhere"))
    assert default_workspace(tmp_path) == default_workspace() == tmp_path / "elsewhere"
