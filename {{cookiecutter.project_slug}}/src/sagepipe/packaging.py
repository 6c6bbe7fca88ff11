"""Content-addressed code trees for jobs, and reproducible ``sourcedir.tar.gz`` files.

A step's code tree is the part of its step function's package that the function's module
imports (with the package's data files), the stdlib-only
``sagepipe/contract.py`` (with an empty ``sagepipe/__init__.py``, so a job never loads
the authoring API) and a generated entry script. Its digest is the sha256 of a manifest
of paths and content digests, so it changes exactly when a file's bytes or name change,
never with timestamps.
"""

from __future__ import annotations

import ast
import functools
import importlib
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import GraphError
from .storage.archives import tar_gz_bytes
from .storage.digests import bytes_sha256, manifest_sha256

# Bumped when the layout of code trees changes, so old digests are not reused by mistake.
TREE_FORMAT = b"sagepipe-code-tree-v1\n"
EXCLUDED_DIRS = frozenset(
    {
        "__pycache__",
        ".git",
        ".hypothesis",
        ".ipynb_checkpoints",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".venv",
        "node_modules",
    }
)
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".egg-info")
CONTRACT_INIT = b'"""sagepipe runtime: only the step contract travels with a job."""\n'


@dataclass(frozen=True)
class CodeTree:
    """Files of a job's code, keyed by POSIX path relative to the tree's root."""

    files: Mapping[str, bytes]

    @property
    def digest(self) -> str:
        """sha256 of the sorted manifest of (path, content sha256)."""
        entries = ((path, bytes_sha256(self.files[path])) for path in sorted(self.files))
        return manifest_sha256(entries, header=TREE_FORMAT)

    def tarball(self) -> bytes:
        """A reproducible ``tar.gz`` of the files (see :mod:`sagepipe.storage.archives`)."""
        return tar_gz_bytes(self.files)

    def objects(self, bucket: str, prefix: str) -> tuple[str, dict[str, bytes]]:
        """The tree as content-addressed S3 objects, as a pipeline's and a monitoring job's
        code is uploaded: (its folder ``s3://<bucket>/<prefix>/code/<digest>/``, each
        file's object URI -> bytes). An empty prefix is left out of the URIs."""
        base = "/".join(part for part in (bucket, prefix.strip("/"), "code", self.digest) if part)
        return f"s3://{base}/", {f"s3://{base}/{path}": data for path, data in self.files.items()}


def read_tree(root: Path, *, prefix: str = "") -> dict[str, bytes]:
    """Read every source file under ``root`` (caches and hidden files left out)."""
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(_excluded(part) for part in relative.parts) or not path.is_file():
            continue
        files[prefix + relative.as_posix()] = path.read_bytes()
    return files


def package_files(module_name: str) -> dict[str, bytes]:
    """Return the files a job needs to import ``module_name`` from its top-level package.

    That is the module, every module of the same package it imports (followed through
    ``import``/``from`` statements, relative or absolute, and through the ``__init__.py``
    files Python runs on the way), and the data files (non-``.py``) inside the packages
    reached. Code the step does not import stays out, so editing one step's module does
    not change the digest, and the cache key, of the others. Imports hidden in strings
    (``importlib.import_module("...")``) are not followed: import step code statically.
    """
    top = module_name.split(".")[0]
    try:
        module = sys.modules.get(top) or importlib.import_module(top)
    except ImportError as exc:
        raise GraphError(f"cannot import {top!r} to package its code: {exc}") from None
    locations = list(getattr(module, "__path__", []))
    if not locations:
        source = getattr(module, "__file__", None)
        if not source or not source.endswith(".py"):
            raise GraphError(
                f"module {top!r} has no Python source file to package; step functions must "
                "live in a .py module or a package"
            )
        return {Path(source).name: Path(source).read_bytes()}
    if len(locations) != 1:
        raise GraphError(
            f"package {top!r} is spread over {len(locations)} folders (a namespace package); "
            "give it an __init__.py so its code has one home"
        )
    base = Path(locations[0]).parent
    modules = _import_closure(module_name, top, base)
    files: dict[str, bytes] = {}
    for path in modules.values():
        files[path.relative_to(base).as_posix()] = path.read_bytes()
        if path.name == "__init__.py":
            files.update(_package_data(path.parent, base))
    for path in _named_files(modules.values(), Path(locations[0])):
        files[path.relative_to(base).as_posix()] = path.read_bytes()
    return files


def _named_files(modules: Iterable[Path], package_root: Path) -> list[Path]:
    """Package files that reached modules name in string literals.

    A step that copies a file of its package by path (``.../"deploy"/"inference.py"``,
    e.g. a serving handler packed into ``model.tar.gz``) needs that file in its tree
    even though it never imports it.
    """
    by_name: dict[str, list[Path]] = {}
    for path in sorted(package_root.rglob("*")):
        relative = path.relative_to(package_root)
        if path.is_file() and not any(_excluded(part) for part in relative.parts):
            by_name.setdefault(path.name, []).append(path)
    by_name.pop("__init__.py", None)
    named: list[Path] = []
    for module in modules:
        for basename in _syntax(module.read_bytes(), str(module)).file_names:
            named.extend(by_name.get(basename, []))
    return named


@dataclass(frozen=True)
class _Syntax:
    """What packaging reads from one module's source."""

    #: ``(level, module, names)`` per import statement (level -1: ``import a, b``).
    imports: tuple[tuple[int, str, tuple[str, ...]], ...]
    #: Last path parts with a dot of the module's string literals (``"inference.py"``).
    file_names: tuple[str, ...]


@functools.lru_cache(maxsize=2048)
def _syntax(source: bytes, filename: str) -> _Syntax:
    """Parse ``source`` once per content: every step of a pipeline packages mostly the
    same modules, and parsing them again for each step was a tenth of a second of every
    compile. Raises ``SyntaxError``."""
    imports: list[tuple[int, str, tuple[str, ...]]] = []
    file_names: list[str] = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            imports.append((-1, "", tuple(alias.name for alias in node.names)))
        elif isinstance(node, ast.ImportFrom):
            names = tuple(alias.name for alias in node.names)
            imports.append((node.level, node.module or "", names))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            basename = node.value.rsplit("/", 1)[-1]
            if "." in basename:
                file_names.append(basename)
    return _Syntax(tuple(imports), tuple(file_names))


def _module_file(name: str, base: Path) -> Path | None:
    candidate = base.joinpath(*name.split("."))
    if (candidate / "__init__.py").is_file():
        return candidate / "__init__.py"
    if candidate.with_suffix(".py").is_file():
        return candidate.with_suffix(".py")
    return None


def _import_closure(module_name: str, top: str, base: Path) -> dict[str, Path]:
    """Modules of package ``top`` that importing ``module_name`` runs, with their files."""
    found: dict[str, Path] = {}
    pending = [module_name]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        path = _module_file(name, base)
        if path is None:
            continue  # `from pkg import name` where name is not a module
        found[name] = path
        parts = name.split(".")
        pending.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        try:
            syntax = _syntax(path.read_bytes(), str(path))
        except SyntaxError as exc:
            raise GraphError(f"cannot package {path}: {exc.msg} at line {exc.lineno}") from None
        for level, module, names in syntax.imports:
            if level < 0:
                pending.extend(names)
                continue
            if level:
                anchor = package.split(".")[: len(package.split(".")) - (level - 1)]
                target = ".".join(anchor + ([module] if module else []))
            else:
                target = module
            pending.append(target)
            pending.extend(f"{target}.{name}" for name in names)
        pending = [n for n in pending if n == top or n.startswith(f"{top}.")]
    return found


def _package_data(folder: Path, base: Path) -> dict[str, bytes]:
    """Non-Python files of a package folder and of its plain (non-package) subfolders."""
    files: dict[str, bytes] = {}
    for path in sorted(folder.iterdir()):
        if _excluded(path.name):
            continue
        if path.is_file() and path.suffix != ".py":
            files[path.relative_to(base).as_posix()] = path.read_bytes()
        elif path.is_dir() and not (path / "__init__.py").exists():
            for relative, data in read_tree(path).items():
                if not relative.endswith(".py"):
                    files[(path.relative_to(base) / relative).as_posix()] = data
    return files


def contract_files() -> dict[str, bytes]:
    """The runtime helper every job carries: ``sagepipe/contract.py``, stdlib only."""
    here = Path(__file__).resolve().parent
    return {
        "sagepipe/__init__.py": CONTRACT_INIT,
        "sagepipe/contract.py": (here / "contract.py").read_bytes(),
    }


def entry_script(kind: str, target: str, outputs: Sequence[str] = ()) -> bytes:
    """Generate the script a job runs: import the step function and call the binder."""
    if kind == "processing":
        call = f"run_processing({target!r}, outputs={list(outputs)!r})"
        helper = "run_processing"
    elif kind == "training":
        call = f"run_training({target!r})"
        helper = "run_training"
    else:
        raise ValueError(f"unknown job kind {kind!r}")
    lines = [
        f'"""Generated by sagepipe: runs {target} under the {kind} container contract."""',
        "",
        "import sys",
        "",
        f"from sagepipe.contract import {helper}",
        "",
        'if __name__ == "__main__":',
        f"    sys.exit({call})",
        "",
    ]
    return "\n".join(lines).encode()


def entry_name(target: str) -> str:
    """File name of a step's entry script, after the function it runs."""
    return f"run_{target.rpartition(':')[2]}.py"


def build_code_tree(kind: str, target: str, outputs: Sequence[str] = ()) -> CodeTree:
    """Assemble the code tree of a job that runs ``target`` (``module:function``)."""
    module_name = target.partition(":")[0]
    files = package_files(module_name)
    if module_name.split(".")[0] != "sagepipe":
        clash = sorted(p for p in files if p.startswith("sagepipe/"))
        if clash:
            raise GraphError(f"package file {clash[0]} would shadow the sagepipe runtime helper")
        files.update(contract_files())
    entry = entry_name(target)
    if entry in files:
        raise GraphError(
            f"the generated entry script {entry} would overwrite a file of the same name; "
            "rename the module or the step function"
        )
    files[entry] = entry_script(kind, target, outputs)
    return CodeTree(dict(sorted(files.items())))


def build_script_tree(script: Path) -> CodeTree:
    """The code tree of a script step: the script's folder, plus the contract helper."""
    files = read_tree(script.parent)
    if not any(path.startswith("sagepipe/") for path in files):
        files.update(contract_files())
    return CodeTree(dict(sorted(files.items())))


def _excluded(part: str) -> bool:
    return part in EXCLUDED_DIRS or part.startswith(".") or part.endswith(EXCLUDED_SUFFIXES)
