"""Framework tests import sagepipe from the template's generated-project source tree."""

from __future__ import annotations

import sys
from pathlib import Path

TEMPLATE_ROOT = Path(__file__).resolve().parents[2]
FRAMEWORK_SRC = TEMPLATE_ROOT / "{{cookiecutter.project_slug}}" / "src"
HERE = Path(__file__).resolve().parent

# sagepipe has no Jinja in it, so the template's copy is importable as it is; the
# example step package lives next to these tests.
for folder in (FRAMEWORK_SRC, HERE):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
