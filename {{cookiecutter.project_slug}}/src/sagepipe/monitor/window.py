"""The time window a monitoring run checks: ``--since`` on the CLI, variables in a job.

``30m``, ``6h``, ``2d`` count back from the window's end; anything else must be an ISO
time (UTC unless it says otherwise). A scheduled Processing job gets Model Monitor's
``end_time`` (EventBridge Scheduler's ``<aws.scheduler.scheduled-time>``) and our
``since`` (the schedule's period), so consecutive runs check consecutive windows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

_RELATIVE = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_time(text: str, what: str) -> datetime:
    """An ISO time as an aware datetime (UTC when it names no zone)."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what} {text!r}: not a time; use e.g. 2026-01-31T12:00:00Z") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def parse_since(
    text: str | None, now: datetime | None = None, what: str = "--since"
) -> datetime | None:
    """``30m``, ``6h``, ``2d`` before ``now`` (default: the current time), or an ISO time."""
    if not text:
        return None
    now = now or datetime.now(timezone.utc)
    match = _RELATIVE.match(text.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return now - timedelta(**{_UNITS[unit]: amount})
    try:
        return parse_time(text, what)
    except ValueError:
        raise ValueError(
            f"{what} {text!r}: not a time; use e.g. 30m, 6h, 2d or 2026-01-31T12:00"
        ) from None


def window(env: Mapping[str, str]) -> tuple[datetime | None, datetime | None]:
    """(start, end) from ``start_time`` / ``end_time`` (Model Monitor's) and ``since`` (ours)."""
    end = parse_time(env["end_time"], "end_time") if env.get("end_time") else None
    if env.get("start_time"):
        return parse_time(env["start_time"], "start_time"), end
    return parse_since(env.get("since"), end, what="since"), end
