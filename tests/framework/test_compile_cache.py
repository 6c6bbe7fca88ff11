"""The compile cache reuses a definition until a source file or a setting changes."""

from __future__ import annotations

import shutil
from pathlib import Path

from compiled_example import compile_example
from framework_paths import HERE
from sagepipe.compile_cache import CompileCache


def source_copy(tmp_path: Path) -> Path:
    root = tmp_path / "pkg"
    shutil.copytree(HERE / "sagepipe_example", root)
    return root


def test_same_sources_and_settings_give_the_same_key(tmp_path: Path) -> None:
    root = source_copy(tmp_path)
    cache = CompileCache(tmp_path / "cache")
    assert cache.key([root], settings={"bucket": "b"}) == cache.key(
        [root], settings={"bucket": "b"}
    )


def test_an_edited_file_or_setting_changes_the_key(tmp_path: Path) -> None:
    root = source_copy(tmp_path)
    cache = CompileCache(tmp_path / "cache")
    before = cache.key([root], settings={"bucket": "b"})
    assert cache.key([root], settings={"bucket": "c"}) != before
    with (root / "steps.py").open("a") as handle:
        handle.write("\n# edited\n")
    assert cache.key([root], settings={"bucket": "b"}) != before


def test_caches_do_not_change_the_key(tmp_path: Path) -> None:
    root = source_copy(tmp_path)
    cache = CompileCache(tmp_path / "cache")
    before = cache.key([root], settings={})
    (root / "__pycache__").mkdir(exist_ok=True)
    (root / "__pycache__" / "x.pyc").write_bytes(b"x")
    assert cache.key([root], settings={}) == before


def test_store_then_load_returns_the_definition(tmp_path: Path) -> None:
    cache = CompileCache(tmp_path / "cache")
    compiled = compile_example()
    s3_root = tmp_path / "s3"
    assert cache.load("k", s3_root) is None
    compiled.write_artifacts(s3_root)
    assert cache.store("k", compiled) == compiled.definition
    assert cache.load("k", s3_root) == compiled.definition


def test_missing_code_objects_invalidate_the_entry(tmp_path: Path) -> None:
    cache = CompileCache(tmp_path / "cache")
    compiled = compile_example()
    s3_root = tmp_path / "s3"
    compiled.write_artifacts(s3_root)
    cache.store("k", compiled)
    shutil.rmtree(s3_root)
    assert cache.load("k", s3_root) is None


def test_a_corrupt_entry_is_a_miss(tmp_path: Path) -> None:
    cache = CompileCache(tmp_path / "cache")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "k.json").write_text("{not json")
    assert cache.load("k", tmp_path / "s3") is None
