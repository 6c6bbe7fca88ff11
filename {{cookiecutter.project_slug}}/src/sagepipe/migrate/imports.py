"""Write import blocks the way the project's linter (ruff's isort rules) wants them."""

from __future__ import annotations

import sys

# Python 3.10+ lists its standard library; the fallback only matters on older versions.
_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | {"__future__"}


def _module(line: str) -> str:
    words = line.split()
    return words[1]


def _section(module: str, first_party: set[str]) -> int:
    root = module.split(".")[0]
    if module.startswith("."):
        return 4
    if root == "__future__":
        return 0
    if root in _STDLIB:
        return 1
    if root in first_party:
        return 3
    return 2


def import_block(lines: list[str], first_party: set[str]) -> list[str]:
    """Sorted, sectioned import lines (future, stdlib, third party, first party, local).

    ``from m import a`` lines for the same module are merged; a blank line separates
    sections.
    """
    plain: dict[int, set[str]] = {}
    froms: dict[int, dict[str, set[str]]] = {}
    for line in lines:
        line = line.strip()
        if line.startswith("import "):
            plain.setdefault(_section(_module(line), first_party), set()).add(line)
        elif line.startswith("from "):
            module, _, imported = line[5:].partition(" import ")
            modules = froms.setdefault(_section(module, first_party), {})
            modules.setdefault(module, set()).update(n.strip() for n in imported.split(","))
    out: list[str] = []
    for section in range(5):
        chunk = sorted(plain.get(section, set()), key=lambda s: s.lower())
        for module in sorted(froms.get(section, {}), key=_from_key):
            names = sorted(froms[section][module], key=_name_key)
            chunk.append(_wrap(f"from {module} import ", names))
        if chunk:
            if out:
                out.append("")
            out.extend(chunk)
    return out


def _from_key(module: str) -> tuple[int, str]:
    # ruff puts "from . import x" after "from .. import y"? No: deeper relatives first.
    dots = len(module) - len(module.lstrip("."))
    return (-dots, module.lower())


def _name_key(name: str) -> tuple[int, str]:
    # isort's default order: CONSTANTS, Classes, functions (case-sensitive groups).
    bare = name.split(" as ")[0]
    if bare.isupper() and len(bare) > 1:
        return (0, bare)
    if bare[:1].isupper():
        return (1, bare)
    return (2, bare)


def _wrap(prefix: str, names: list[str]) -> str:
    line = prefix + ", ".join(names)
    if len(line) <= 100:
        return line
    return prefix + "(\n" + "".join(f"    {n},\n" for n in names) + ")"
