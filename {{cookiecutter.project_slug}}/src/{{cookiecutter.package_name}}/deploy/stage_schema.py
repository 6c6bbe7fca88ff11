"""The schema of a stage file (``deploy/stages/<stage>.toml``) and of its environment overrides.

Checked before any value is used, with strict types (``enabled = "false"`` is an error,
not "true"), no unknown sections or keys (a misspelt ``[servr]`` would otherwise silently
fall back to defaults), and ranges (ports 1-65535, positive timeouts, finite numbers).
Every problem is one line naming the file, the key, the rule and the fix.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

Check = Callable[[Any], "str | None"]


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) and value.strip() else "must be non-empty text"


def _integer(low: int, high: int | None = None) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be a whole number, not {type(value).__name__} {value!r}"
        if value < low or (high is not None and value > high):
            return f"must be between {low} and {high}" if high else f"must be at least {low}"
        return None

    return check


def _number(low: float, high: float | None = None, *, above: bool = False) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number, not {type(value).__name__} {value!r}"
        if not math.isfinite(value):
            return "must be a finite number"
        if (value <= low if above else value < low) or (high is not None and value > high):
            edge = "above" if above else "at least"
            return f"must be {edge} {low:g}" + (f" and at most {high:g}" if high else "")
        return None

    return check


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false, not {value!r}"


def _version(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return None
    if isinstance(value, str) and (
        value in ("latest", "latest-approved", "promoted") or value.isdigit()
    ):
        return None
    return "must be 'latest-approved', 'latest', 'promoted' or a version number"


def _choice(*allowed: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in allowed else f"must be one of {', '.join(allowed)}"

    return check


def _names(value: Any) -> str | None:
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return None
    return 'must be a list of names, e.g. ["churn-model-prod-5xx"] (or [])'


def _metrics(value: Any) -> str | None:
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return None
    return 'must be a non-empty list of metric names, e.g. ["accuracy", "auc"]'


SCHEMA: dict[str, dict[str, Check]] = {
    "": {"model_version": _version},
    "server": {
        "host": _text,
        "port": _integer(1, 65535),
        "workers": _integer(0),
        "timeout_seconds": _number(0, 3600, above=True),
        "max_payload_mb": _number(0, 1024, above=True),
    },
    "variant": {
        "name": _text,
        "instance_type": _text,
        "initial_instance_count": _integer(1),
    },
    "capture": {"enabled": _boolean, "sampling_percentage": _number(0, 100)},
    "shadow": {"variant_name": _text, "sampling_percentage": _number(0, 100)},
    "smoke_test": {
        "latency_requests": _integer(1),
        "max_latency_ms": _number(0, above=True),
        "batch_rows": _integer(1),
        "tolerance": _number(0),
        "metrics": _metrics,
    },
    # SageMaker only (`deploy --target sagemaker`): the blue/green update policy.
    "deployment": {
        "strategy": _choice("all-at-once", "canary", "linear"),
        "canary_percentage": _number(0, 100, above=True),
        "linear_step_percentage": _number(0, 100, above=True),
        "wait_seconds": _integer(0, 3600),
        "termination_wait_seconds": _integer(0, 3600),
        "alarms": _names,
    },
}
ENVIRONMENT: dict[str, Check] = {
    "SAGEMAKER_MODEL_SERVER_TIMEOUT": _number(0, 3600, above=True),
    "SAGEMAKER_MODEL_SERVER_WORKERS": _integer(1),
    "SAGEMAKER_BIND_TO_PORT": _integer(1, 65535),
}


def _suggest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def problems(raw: Mapping[str, Any], path: Path) -> list[str]:
    """Every rule ``raw`` (a parsed stage file) breaks, one line each."""
    found: list[str] = []
    sections = [s for s in SCHEMA if s]
    for key, value in raw.items():
        if key in SCHEMA[""]:
            why = SCHEMA[""][key](value)
            if why:
                found.append(f"{path}: {key} = {value!r} {why}")
        elif key in SCHEMA:
            if not isinstance(value, Mapping):
                found.append(f"{path}: {key} must be a [{key}] section")
                continue
            for name, item in value.items():
                check = SCHEMA[key].get(name)
                if check is None:
                    known = sorted(SCHEMA[key])
                    found.append(
                        f"{path}: [{key}] has no key {name!r}; {_suggest(name, known)}"
                        f"keys are {', '.join(known)}"
                    )
                    continue
                why = check(item)
                if why:
                    found.append(f"{path}: {key}.{name} = {item!r} {why}")
        else:
            found.append(
                f"{path}: unknown {'section' if isinstance(value, Mapping) else 'key'} "
                f"{key!r}; {_suggest(key, sections + list(SCHEMA['']))}"
                f"sections are {', '.join(f'[{s}]' for s in sections)}"
            )
    return found


def environment_problems(environ: Mapping[str, str] | None = None) -> list[str]:
    """Every override in the environment that is not a valid value, one line each."""
    environ = os.environ if environ is None else environ
    found = []
    for name, check in ENVIRONMENT.items():
        raw = environ.get(name, "").strip()
        if not raw:
            continue
        try:
            value: Any = int(raw)
        except ValueError:
            try:
                value = float(raw)
            except ValueError:
                value = raw
        why = check(value)
        if why:
            found.append(f"environment {name}={raw!r} {why}; fix or unset it")
    return found


def validate(raw: Mapping[str, Any], path: Path) -> None:
    """Raise ValueError with the first problem (and how many more) of the file and environment."""
    found = problems(raw, path) + environment_problems()
    if found:
        more = f" (and {len(found) - 1} more problems)" if len(found) > 1 else ""
        raise ValueError(found[0] + more)
