"""Read a notebook (``.ipynb`` or jupytext percent ``.py``) into plain cells.

Only the standard library is used: an ``.ipynb`` file is JSON (nbformat 4) and the
percent format is a handful of comment conventions, so migrating needs no Jupyter.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import MigrationError

_PERCENT_MARKER = re.compile(r"^# %%(?P<rest>.*)$")
_PERCENT_TAGS = re.compile(r"tags\s*=\s*(\[[^\]]*\])")
# jupytext comments out magics and shell lines in percent scripts: "# %pip ...", "# !ls".
_PERCENT_MAGIC = re.compile(r"^(\s*)# ([%!].*)$")


@dataclass
class Cell:
    """One notebook cell; ``index`` counts every cell from 0, as Jupyter shows them."""

    index: int
    kind: str  # "code" | "markdown" | "raw"
    source: str
    tags: list[str] = field(default_factory=list)
    execution_count: int | None = None
    outputs: list[str] = field(default_factory=list)  # saved text outputs (stream, text/plain)
    title: str | None = None  # a percent script's "# %% Title" marker text


@dataclass
class Notebook:
    """A notebook's cells, its path and the digest of its bytes (to detect later edits)."""

    path: Path
    cells: list[Cell]
    sha256: str

    @property
    def code_cells(self) -> list[Cell]:
        """The code cells, in notebook order."""
        return [cell for cell in self.cells if cell.kind == "code"]


def read_notebook(path: Path) -> Notebook:
    """Read ``path``; raise MigrationError with a one-line reason if it is not a notebook."""
    path = Path(path)
    if not path.is_file():
        raise MigrationError(f"{path}: no such notebook; pass an existing .ipynb or .py file")
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    text = raw.decode("utf-8", errors="replace")
    if path.suffix == ".ipynb":
        cells = _read_ipynb(path, text)
    elif path.suffix == ".py":
        cells = _read_percent(path, text)
    else:
        raise MigrationError(
            f"{path}: unsupported notebook type {path.suffix!r}; use .ipynb or a jupytext "
            "percent .py file"
        )
    return Notebook(path=path, cells=cells, sha256=digest)


def _read_ipynb(path: Path, text: str) -> list[Cell]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MigrationError(
            f"{path}: not valid notebook JSON ({exc.msg} at line {exc.lineno}); "
            "save it again from Jupyter"
        ) from None
    if not isinstance(document, dict) or document.get("nbformat") != 4:
        raise MigrationError(
            f"{path}: nbformat {document.get('nbformat') if isinstance(document, dict) else '?'}"
            " is not supported; convert it with 'jupyter nbconvert --to notebook' (nbformat 4)"
        )
    cells = []
    for index, cell in enumerate(document.get("cells", [])):
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        metadata = cell.get("metadata") or {}
        cells.append(
            Cell(
                index=index,
                kind=str(cell.get("cell_type", "code")),
                source=source,
                tags=[str(tag) for tag in metadata.get("tags", [])],
                execution_count=cell.get("execution_count"),
                outputs=_text_outputs(cell.get("outputs") or []),
            )
        )
    return cells


def _text_outputs(outputs: list[object]) -> list[str]:
    texts = []
    for output in outputs:
        if not isinstance(output, dict):
            continue
        text = output.get("text")
        if text is None:
            text = (output.get("data") or {}).get("text/plain")
        if isinstance(text, list):
            text = "".join(str(t) for t in text)
        if isinstance(text, str) and text.strip():
            texts.append(text)
    return texts


def _read_percent(path: Path, text: str) -> list[Cell]:
    lines = text.splitlines()
    if not any(_PERCENT_MARKER.match(line) for line in lines):
        raise MigrationError(
            f"{path}: no '# %%' cell markers; a .py notebook must be in jupytext percent "
            "format (jupytext --to py:percent NOTEBOOK.ipynb)"
        )
    cells: list[Cell] = []
    # Text before the first marker is a code cell.
    kind, tags, body = "code", list[str](), list[str]()
    title: str | None = None
    start = _skip_header(lines)

    def flush() -> None:
        source = "\n".join(body).strip("\n")
        if kind == "markdown":
            source = "\n".join(_uncomment(line) for line in source.splitlines())
        if source or kind != "code":
            cells.append(Cell(index=len(cells), kind=kind, source=source, tags=tags, title=title))

    for line in lines[start:]:
        marker = _PERCENT_MARKER.match(line)
        if marker:
            flush()
            rest = marker.group("rest")
            kind = "markdown" if "[markdown]" in rest or "[md]" in rest else "code"
            kind = "raw" if "[raw]" in rest else kind
            found = _PERCENT_TAGS.search(rest)
            tags = [str(t) for t in json.loads(found.group(1))] if found else []
            words = _PERCENT_TAGS.sub("", re.sub(r"\[[a-z]+\]", "", rest)).strip()
            title = words or None
            body = []
            continue
        magic = _PERCENT_MAGIC.match(line) if kind == "code" else None
        body.append(magic.group(1) + magic.group(2) if magic else line)
    flush()
    return cells


def _skip_header(lines: list[str]) -> int:
    # jupytext writes a YAML header between "# ---" lines before the first cell.
    if lines and lines[0].strip() == "# ---":
        for number, line in enumerate(lines[1:], start=1):
            if line.strip() == "# ---":
                return number + 1
    return 0


def _uncomment(line: str) -> str:
    if line.startswith("# "):
        return line[2:]
    return line[1:] if line.startswith("#") else line
