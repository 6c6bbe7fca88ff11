"""Compilation is deterministic and code is addressed by its content."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from compiled_example import compile_example
from framework_paths import FRAMEWORK_SRC, HERE
from sagepipe import Pipeline, Processing, compile_pipeline
from sagepipe.packaging import CodeTree, build_code_tree
from sagepipe_example.pipeline import ROLE

COMPILE_IN_A_FRESH_PROCESS = """
import sys
from compiled_example import compile_example
sys.stdout.buffer.write(compile_example().to_json())
"""


def test_compiling_twice_gives_identical_bytes_and_artifacts() -> None:
    first, second = compile_example(), compile_example()
    assert first.to_json() == second.to_json()
    assert first.artifacts == second.artifacts


def test_a_fresh_interpreter_with_another_hash_seed_gives_identical_bytes() -> None:
    env = {
        **os.environ,
        "PYTHONHASHSEED": "12345",
        "PYTHONPATH": os.pathsep.join([str(FRAMEWORK_SRC), str(HERE)]),
    }
    result = subprocess.run(
        [sys.executable, "-c", COMPILE_IN_A_FRESH_PROCESS],
        capture_output=True,
        env=env,
        check=True,
    )
    assert result.stdout == compile_example().to_json()


def test_output_is_canonical_json_with_a_trailing_newline() -> None:
    data = compile_example().to_json()
    assert data.endswith(b"}\n")
    assert data.startswith(b'{\n  "Metadata": {},\n  "Parameters": [')


def test_every_code_uri_in_the_definition_is_an_artifact() -> None:
    compiled = compile_example()
    text = compiled.to_json().decode()
    for digest in compiled.code_digests.values():
        assert f"/code/{digest}/" in text
    assert all(
        uri.split("/code/")[1].split("/")[0] in compiled.code_digests.values()
        for uri in compiled.artifacts
    )


@pytest.fixture
def copied_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private, importable step package that a test may edit."""
    package = tmp_path / "src" / "digestpkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text("def copy_text(text: str) -> str:\n    return text\n")
    (package / "unrelated.py").write_text("VALUE = 1\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "names.py").write_text("NAME = 'x'\n")
    (package / "serve").mkdir()
    (package / "serve" / "__init__.py").write_text("")
    (package / "serve" / "handler.py").write_text("def model_fn(model_dir): ...\n")
    (package / "steps.py").write_text(
        textwrap.dedent(
            """
            from pathlib import Path

            from digestpkg.sub.names import NAME
            from .helpers import copy_text

            # Copied into the model by path, never imported: it must travel all the same.
            HANDLER = Path(__file__).parent / "serve" / "handler.py"

            def clean(raw: Path, out: Path) -> None:
                (out / NAME).write_text(copy_text((raw / NAME).read_text()))
            """
        )
    )
    (package / "other.py").write_text(
        "from pathlib import Path\n\ndef other(raw: Path, out: Path) -> None:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    yield package
    for name in [m for m in sys.modules if m == "digestpkg" or m.startswith("digestpkg.")]:
        del sys.modules[name]


def compile_package() -> dict[str, str]:
    from digestpkg import other, steps

    pipeline = Pipeline(
        "digest",
        steps=[
            Processing("Clean", steps.clean, inputs={"raw": "s3://b/raw"}, outputs=["out"]),
            Processing("Other", other.other, inputs={"raw": "s3://b/raw"}, outputs=["out"]),
        ],
    )
    return compile_pipeline(pipeline, bucket="bucket", role=ROLE).code_digests


def test_touching_files_does_not_change_digests(copied_package: Path) -> None:
    before = compile_package()
    for path in copied_package.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    assert compile_package() == before


def test_caches_and_hidden_files_do_not_change_digests(copied_package: Path) -> None:
    before = compile_package()
    (copied_package / "__pycache__").mkdir(exist_ok=True)
    (copied_package / "__pycache__" / "steps.cpython-311.pyc").write_bytes(b"junk")
    (copied_package / ".DS_Store").write_bytes(b"junk")
    assert compile_package() == before


def test_changing_the_step_module_changes_only_its_digest(copied_package: Path) -> None:
    before = compile_package()
    with (copied_package / "steps.py").open("a") as handle:
        handle.write("\n# a comment is a change too\n")
    after = compile_package()
    assert after["Clean"] != before["Clean"]
    assert after["Other"] == before["Other"]


def test_changing_an_imported_module_changes_the_digest(copied_package: Path) -> None:
    before = compile_package()
    (copied_package / "helpers.py").write_text(
        "def copy_text(text: str) -> str:\n    return text * 2\n"
    )
    assert compile_package()["Clean"] != before["Clean"]
    (copied_package / "sub" / "names.py").write_text("NAME = 'y'\n")
    assert compile_package()["Clean"] != before["Clean"]


def test_modules_the_step_does_not_import_stay_out(copied_package: Path) -> None:
    from sagepipe.packaging import package_files

    before = compile_package()
    (copied_package / "unrelated.py").write_text("VALUE = 2\n")
    assert compile_package() == before
    assert sorted(package_files("digestpkg.steps")) == [
        "digestpkg/__init__.py",
        "digestpkg/helpers.py",
        "digestpkg/serve/handler.py",
        "digestpkg/steps.py",
        "digestpkg/sub/__init__.py",
        "digestpkg/sub/names.py",
    ]


def test_adding_a_data_file_to_the_package_changes_the_digest(copied_package: Path) -> None:
    before = compile_package()
    (copied_package / "suite.json").write_text("{}")
    assert compile_package()["Clean"] != before["Clean"]


def test_steps_with_different_functions_get_different_trees(copied_package: Path) -> None:
    digests = compile_package()
    assert digests["Clean"] != digests["Other"]


def test_code_tree_carries_package_contract_and_entry_only() -> None:
    tree = build_code_tree("processing", "sagepipe_example.steps:preprocess", ["train"])
    assert sorted(tree.files) == [
        "run_preprocess.py",
        "sagepipe/__init__.py",
        "sagepipe/contract.py",
        "sagepipe_example/__init__.py",
        "sagepipe_example/steps.py",
    ]
    entry = tree.files["run_preprocess.py"].decode()
    assert "run_processing('sagepipe_example.steps:preprocess', outputs=['train'])" in entry


def test_sourcedir_tarball_is_reproducible_and_normalized() -> None:
    tree = CodeTree({"b/two.py": b"2", "a.py": b"1"})
    data = tree.tarball()
    assert data == CodeTree({"a.py": b"1", "b/two.py": b"2"}).tarball()
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        members = archive.getmembers()
        assert [m.name for m in members] == ["a.py", "b/two.py"]
        assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) for m in members} == {
            (0, 0, 0, "", "", 0o644)
        }
        assert archive.extractfile("b/two.py").read() == b"2"  # type: ignore[union-attr]


def test_write_artifacts_maps_s3_uris_below_the_root(tmp_path: Path) -> None:
    compiled = compile_example()
    written = compiled.write_artifacts(tmp_path)
    assert len(written) == len(compiled.artifacts)
    for uri, data in compiled.artifacts.items():
        assert (tmp_path / uri.removeprefix("s3://")).read_bytes() == data
    stamp = {p: p.stat().st_mtime_ns for p in written}
    compiled.write_artifacts(tmp_path)  # identical content: files are left alone
    assert {p: p.stat().st_mtime_ns for p in written} == stamp
    assert not list(tmp_path.rglob("*.tmp"))


def test_function_in_main_is_refused_with_the_fix(tmp_path: Path) -> None:
    script = tmp_path / "notebook_like.py"
    script.write_text(
        textwrap.dedent(
            """
            from pathlib import Path
            from sagepipe import GraphError, Processing

            def clean(raw: Path) -> None:
                pass

            try:
                Processing("Clean", clean, inputs={"raw": "s3://b/raw"})
            except GraphError as exc:
                print(exc)
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(FRAMEWORK_SRC)}
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == (
        "step 'Clean': function clean is defined in __main__ (a script or notebook); move it "
        "into a module of your package so the job can import it"
    )


def test_package_copy_is_independent_of_the_working_directory(
    copied_package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = compile_package()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert compile_package() == before
    shutil.rmtree(elsewhere)
