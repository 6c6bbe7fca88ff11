"""Framework tests import sagepipe from the template's generated-project source tree."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# sagepipe has no Jinja in it, so the template's copy is importable as it is; the
# example step package and helpers live next to these tests.
for _folder in (_HERE.parents[1] / "{{cookiecutter.project_slug}}" / "src", _HERE):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))
