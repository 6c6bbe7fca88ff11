"""Take IPython magics and shell lines out of a cell, recording each one.

Nothing is dropped silently: ``!pip install`` / ``%pip install`` become project
dependencies, every other magic or shell line becomes a TODO entry of the plan.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

# Cell magics whose body is not Python: the whole cell becomes a TODO.
_FOREIGN_CELL_MAGICS = {
    "bash",
    "sh",
    "script",
    "writefile",
    "html",
    "javascript",
    "js",
    "latex",
    "markdown",
    "svg",
    "perl",
    "ruby",
    "sql",
    "system",
}
_ASSIGNED_SHELL = re.compile(r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*=\s*[!%]")
_PIP = re.compile(
    r"^\s*[!%]\s*(?:python\s+-m\s+)?(?:pip|pip3|conda|mamba)\s+install\s+(?P<args>.*)$"
)


@dataclass
class MagicNote:
    """One line the migration removed from a cell, and what the user should do about it."""

    line: str
    action: str


@dataclass
class CleanCell:
    """Cell source with magics removed, the notes about them and the pip requirements."""

    source: str
    notes: list[MagicNote] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)
    foreign: bool = False  # the whole cell is shell/another language


def strip_magics(source: str) -> CleanCell:
    """Remove magics and shell lines from ``source``; return what is left and the notes."""
    lines = source.splitlines()
    first = lines[0].strip() if lines else ""
    if first.startswith("%%"):
        name = first[2:].split()[0] if len(first) > 2 else ""
        if name in _FOREIGN_CELL_MAGICS:
            return CleanCell(
                source="",
                notes=[
                    MagicNote(
                        first,
                        f"cell magic %%{name}: the cell is not Python; port it "
                        "by hand (it is not part of any step)",
                    )
                ],
                foreign=True,
            )
        # %%time, %%capture, %%timeit ...: the body is Python; only the timing goes.
        result = strip_magics("\n".join(lines[1:]))
        result.notes.insert(
            0, MagicNote(first, f"cell magic %%{name} removed; the cell body is kept")
        )
        return result
    kept: list[str] = []
    notes: list[MagicNote] = []
    requirements: list[str] = []
    for line in lines:
        stripped = line.strip()
        pip = _PIP.match(line)
        if pip:
            packages = _requirements(pip.group("args"))
            requirements.extend(packages)
            notes.append(
                MagicNote(
                    stripped,
                    "added to the project's dependencies: "
                    + (", ".join(packages) or "(nothing to add)"),
                )
            )
            continue
        if stripped.startswith(("%", "!")) or _ASSIGNED_SHELL.match(line):
            notes.append(MagicNote(stripped, _advice(stripped)))
            kept.append(
                _indent_of(line) + "pass  # TODO(migrate): was " + stripped
                if _needs_placeholder(kept, line)
                else ""
            )
            continue
        if (
            stripped.endswith("?")
            and not stripped.startswith("#")
            and re.match(r"^[\w.]+\?{1,2}$", stripped)
        ):
            notes.append(MagicNote(stripped, "help lookup removed"))
            continue
        kept.append(line)
    return CleanCell(source="\n".join(kept), notes=notes, requirements=requirements)


def _requirements(args: str) -> list[str]:
    try:
        words = shlex.split(args, comments=True)
    except ValueError:
        words = args.split()
    packages = []
    skip_next = False
    for word in words:
        if skip_next:
            skip_next = False
            continue
        if word in {"-r", "-c", "-e", "--index-url", "-i", "--extra-index-url", "--target"}:
            skip_next = True
            continue
        if word.startswith("-") or word.startswith("$") or word.startswith("{"):
            continue
        packages.append(word)
    return packages


def _advice(line: str) -> str:
    if line.startswith("%matplotlib") or line.startswith("%config"):
        return "display setting removed; steps do not display anything"
    if line.startswith(("%load_ext", "%autoreload", "%reload_ext")):
        return "notebook extension removed; not needed in modules"
    if line.startswith(("%time", "%timeit", "%prun")):
        return "timing magic removed; the timed statement was dropped too, re-add it if needed"
    if line.startswith("%run"):
        return "%run removed: import the code it ran from a module instead"
    if line.startswith("!") or "= !" in line or "=!" in line:
        return "shell command removed: run it in the pipeline's setup (or CI) instead"
    return "magic removed: port it by hand if the pipeline needs it"


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _needs_placeholder(kept: list[str], line: str) -> bool:
    # An indented magic (inside an if/for) needs a statement in its place to stay valid.
    return bool(_indent_of(line))
