"""``python -m sagepipe.monitor``: the analyzer job, configured by environment variables.

Exit status: 0 no violation (or ``fail_on_violation=false``), 1 violations found, 2 bad
configuration or input. See
:mod:`sagepipe.monitor.container` for the variables.
"""

from __future__ import annotations

import os
import sys

from .baseline import BaselineError
from .container import exit_status, run


def main() -> int:
    """Run the job described by ``os.environ``."""
    try:
        outcome = run(os.environ)
    except (BaselineError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"statistics: {outcome.statistics}")
    if outcome.constraints:
        print(f"constraints: {outcome.constraints}")
    if outcome.violations:
        print(f"violations: {outcome.violation_count} in {outcome.violations}")
    return exit_status(outcome, os.environ)


if __name__ == "__main__":
    sys.exit(main())
