"""Bounded polling with backoff: the only kind of waiting the backend does."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from .errors import AwsError

T = TypeVar("T")


class WaitTimeout(RuntimeError):
    """The resource did not settle in time."""


def poll(
    probe: Callable[[], T],
    done: Callable[[T], bool],
    *,
    what: str,
    timeout: float,
    first_delay: float = 2.0,
    max_delay: float = 30.0,
    on_tick: Callable[[T], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``probe`` until ``done`` says yes; the delay doubles up to ``max_delay``.

    Raises :class:`WaitTimeout` naming ``what`` after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    delay = first_delay
    while True:
        value = probe()
        if on_tick is not None:
            on_tick(value)
        if done(value):
            return value
        if time.monotonic() + delay > deadline:
            raise WaitTimeout(
                f"{what} did not finish within {timeout:.0f} s; it is still running on AWS "
                "(check the console or run the command again to keep watching)"
            )
        sleep(delay)
        delay = min(delay * 2, max_delay)


def wait_for_status(
    probe: Callable[[], dict[str, Any]],
    key: str,
    final: Collection[str],
    *,
    what: str,
    echo: Callable[[str], None],
    timeout: float,
    sleep: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Call ``probe`` (a Describe call) until its ``key`` is one of ``final``; return that answer.

    Each new status is echoed as ``<what>: <status>``. Out of time, it raises
    :class:`AwsError` naming ``what`` (which keeps running on AWS).
    """
    seen: list[str] = []

    def tick(info: dict[str, Any]) -> None:
        status = str(info.get(key))
        if not seen or seen[-1] != status:
            seen.append(status)
            echo(f"{what}: {status}")

    try:
        return poll(
            probe,
            lambda info: info.get(key) in final,
            what=what,
            timeout=timeout,
            first_delay=5,
            on_tick=tick,
            sleep=sleep or time.sleep,
        )
    except WaitTimeout as err:
        raise AwsError(str(err)) from None
