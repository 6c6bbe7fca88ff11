"""Order and run the steps of one execution, knowing nothing about what a step does.

The scheduler sees a step as a name, a type, its dependencies and (inside a Condition's
branch) the outcome it waits for. It starts a step when its dependencies succeeded and
its branch was taken, hands it to the runner registered for its type, runs at most
``max_workers`` concurrent steps at a time, stops starting steps after a failure or a
stop request, and records every state change. Of the steps ready at once, the one with
the longest way to the end of the run starts first (:func:`remaining_seconds`). What a
step *does* is its runner's business (see :mod:`sagepipe.local.runners`), so a new step
type is a new runner.
"""

from __future__ import annotations

import datetime as _dt
import queue
import threading
import time
from collections.abc import Callable, Hashable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .execution import now
from .history import StepRun
from .states import StepState, is_terminal

STOP_GRACE_SECONDS = 5.0
UNKNOWN_SECONDS = 1.0  # a step with no past run: then the longest chain of steps goes first


class StopRequest:
    """A request to end the execution: nothing starts after it; running steps are told."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason: str | None = None
        self.time: float | None = None
        self._listeners: list[Callable[[bool], None]] = []

    def listen(self, listener: Callable[[bool], None]) -> None:
        """Call ``listener(force)`` on every request: ``force`` from the second one on."""
        self._listeners.append(listener)

    def is_set(self) -> bool:
        """True once a stop was requested."""
        return self._event.is_set()

    def request(self, reason: str) -> None:
        """Ask to stop; a second request (a second Ctrl-C) forces it."""
        first = not self._event.is_set()
        self.reason = self.reason or reason
        self._event.set()
        self.time = self.time or time.monotonic()
        self._tell(force=not first)

    def force(self) -> None:
        """Tell running steps to end now (grace period over, or the executor failed)."""
        self._tell(force=True)

    def overdue(self, grace_seconds: float) -> bool:
        """True when a stop was requested more than ``grace_seconds`` ago."""
        return self.time is not None and time.monotonic() - self.time > grace_seconds

    def _tell(self, *, force: bool) -> None:
        for listener in self._listeners:
            listener(force)


@dataclass(frozen=True)
class StepOutcome:
    """What running one step produced."""

    state: StepState
    properties: Mapping[str, Any] = field(default_factory=dict)  # what later steps can Get
    recorded: Mapping[str, Any] | None = None  # kept in the history (None: ``properties``)
    branch: bool | None = None  # a branching step's result: which children run
    cache_hit: bool = False
    failure_reason: str | None = None
    failure_summary: str | None = None  # the execution's reason (None: "step X failed: ...")
    inputs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # digests read
    log_path: str | None = None  # replaces the log shown while running (e.g. a cache hit's)


@dataclass(frozen=True)
class Work:
    """A step ready to run: ``call`` runs it; ``log_path`` is shown while it runs."""

    call: Callable[[], StepOutcome]
    log_path: str | None = None


class StepRunner(Protocol):
    """Runs the steps of one type; ``concurrent`` ones take a worker slot and a thread."""

    concurrent: bool

    def prepare(self, step: Any) -> Work:
        """Called on the scheduler's thread just before the step starts."""
        ...


class SchedulableStep(Protocol):
    """What the scheduler reads of a step (a :class:`~sagepipe.local.plan.StepPlan`)."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> Hashable: ...
    @property
    def depends_on(self) -> frozenset[str]: ...
    @property
    def parent(self) -> str | None: ...
    @property
    def branch(self) -> bool | None: ...


def remaining_seconds(
    steps: Mapping[str, SchedulableStep], expected: Mapping[str, float]
) -> dict[str, float]:
    """Each step's expected seconds to the end of the run: its own, plus the longest
    chain of steps that wait for it (``DependsOn``, data references, a Condition's branch).

    This is critical-path list scheduling: started first, the step that heads the longest
    chain cannot end last behind shorter work. A step missing from ``expected`` counts
    :data:`UNKNOWN_SECONDS`, so with no past run the longest
    chain by step count goes first.
    """
    waiting: dict[str, set[str]] = {name: set() for name in steps}
    for name, step in steps.items():
        for before in {*step.depends_on, *([step.parent] if step.parent else [])}:
            if before in waiting and before != name:
                waiting[before].add(name)
    # Last steps first (Kahn's order on the reversed graph), without recursion: a chain
    # of MAX_STEPS steps is valid and deeper than Python's recursion limit.
    left = {name: len(after) for name, after in waiting.items()}
    waited_on: dict[str, list[str]] = {name: [] for name in steps}
    for name, after in waiting.items():
        for later in after:
            waited_on[later].append(name)
    ready = [name for name, count in left.items() if count == 0]
    remaining: dict[str, float] = {}
    while ready:
        name = ready.pop()
        longest = max((remaining[n] for n in waiting[name]), default=0.0)
        remaining[name] = expected.get(name, UNKNOWN_SECONDS) + longest
        for before in waited_on[name]:
            left[before] -= 1
            if left[before] == 0:
                ready.append(before)
    for name in steps:  # on a cycle (refused by validation): only its own time
        remaining.setdefault(name, expected.get(name, UNKNOWN_SECONDS))
    return remaining


class Scheduler:
    """Runs a set of steps to completion through the runners keyed by step type."""

    def __init__(
        self,
        steps: Mapping[str, SchedulableStep],
        runners: Mapping[Any, StepRunner],
        records: Mapping[str, StepRun],
        *,
        notify: Callable[[StepRun], None],
        stop: StopRequest,
        max_workers: int,
        properties: MutableMapping[str, Any],
        inputs: MutableMapping[str, Mapping[str, Mapping[str, str]]],
        grace_seconds: float = STOP_GRACE_SECONDS,
        expected_seconds: Mapping[str, float] | None = None,
    ) -> None:
        missing = sorted({str(s.type) for s in steps.values() if s.type not in runners})
        if missing:
            raise LookupError(
                f"no runner for step type {missing[0]!r}: register one in sagepipe.local.runners"
            )
        self.steps = steps
        self.runners = runners
        self.records = records
        self.notify = notify
        self.stop = stop
        self.max_workers = max_workers
        self.properties = properties
        self.inputs = inputs
        self.grace_seconds = grace_seconds
        self.branches: dict[str, bool] = {}
        self.failure: str | None = None  # the first failure: the execution's reason
        self.done: queue.Queue[tuple[str, StepOutcome]] = queue.Queue()
        # Ready steps start longest way to the end first, ties in definition order; jobs
        # (started on threads) before in-process steps, which hold this thread.
        remaining = remaining_seconds(steps, expected_seconds or {})
        self.order = sorted(
            steps,
            key=lambda name: (not runners[steps[name].type].concurrent, -remaining[name]),
        )

    def set_status(self, name: str, state: StepState, **changes: Any) -> None:
        """Change a step's record (times and duration follow) and report it."""
        step = self.records[name]
        step.status = state
        for key, value in changes.items():
            setattr(step, key, value)
        if state is StepState.EXECUTING and step.started is None:
            step.started = now()
        if state.terminal and state is not StepState.NOT_EXECUTED:
            step.ended = now()
            if step.started:
                start = _dt.datetime.fromisoformat(step.started)
                end = _dt.datetime.fromisoformat(step.ended)
                step.duration_seconds = round((end - start).total_seconds(), 3)
        self.notify(step)

    def run(self) -> None:
        """Run until every step is terminal (a failure or stop leaves the rest NotExecuted)."""
        pending = list(self.order)
        running: set[str] = set()
        while pending or running:
            progressed = True
            while progressed:
                progressed = False
                for name in list(pending):
                    verdict = self._readiness(name)
                    if verdict == "wait":
                        continue
                    runner = self.runners[self.steps[name].type]
                    if verdict == "skip":
                        self.set_status(name, StepState.NOT_EXECUTED)
                    elif not runner.concurrent:
                        self._run_here(name, runner)
                    elif len(running) < self.max_workers:
                        running.add(name)
                        self._start_thread(name, runner)
                    else:
                        continue
                    pending.remove(name)
                    progressed = True
            if not running:
                # Only after a stop/failure: nothing may start any more.
                for name in [n for n in self.steps if n in pending]:
                    self.set_status(name, StepState.NOT_EXECUTED)
                break
            try:
                name, outcome = self.done.get(timeout=0.2)
            except queue.Empty:
                if self.stop.overdue(self.grace_seconds):
                    self.stop.force()
                continue
            running.discard(name)
            self._absorb(name, outcome, threaded=True)

    def _readiness(self, name: str) -> str:
        if self.stop.is_set() or self.failure is not None:
            return "skip"
        step = self.steps[name]
        statuses = [self.records[d].status for d in step.depends_on]
        if any(not is_terminal(s) for s in statuses):
            return "wait"
        if any(s != StepState.SUCCEEDED for s in statuses):
            return "skip"
        if step.parent is not None and self.branches.get(step.parent) != step.branch:
            return "skip"
        return "go"

    def _run_here(self, name: str, runner: StepRunner) -> None:
        work = runner.prepare(self.steps[name])
        self._executing(name, work)
        self._absorb(name, work.call(), threaded=False)

    def _start_thread(self, name: str, runner: StepRunner) -> None:
        work = runner.prepare(self.steps[name])
        self._executing(name, work)
        thread = threading.Thread(
            target=self._work_thread, args=(name, work), name=f"job-{name}", daemon=True
        )
        thread.start()

    def _executing(self, name: str, work: Work) -> None:
        if work.log_path is None:
            self.set_status(name, StepState.EXECUTING)
        else:
            self.set_status(name, StepState.EXECUTING, log_path=work.log_path)

    def _work_thread(self, name: str, work: Work) -> None:
        try:
            outcome = work.call()
        except Exception as exc:  # report, never lose a worker silently
            outcome = StepOutcome(StepState.FAILED, failure_reason=f"{type(exc).__name__}: {exc}")
        self.done.put((name, outcome))

    def _absorb(self, name: str, outcome: StepOutcome, *, threaded: bool) -> None:
        self.inputs[name] = outcome.inputs
        if outcome.state is StepState.SUCCEEDED:
            if outcome.branch is not None:
                self.branches[name] = outcome.branch
            self.properties[name] = outcome.properties
            recorded = outcome.properties if outcome.recorded is None else outcome.recorded
            self.set_status(
                name,
                StepState.SUCCEEDED,
                cache_hit=outcome.cache_hit,
                log_path=outcome.log_path or self.records[name].log_path,
                properties=dict(recorded),
            )
        elif outcome.state is StepState.STOPPED or (threaded and self.stop.is_set()):
            # A concurrent step that ended during a stop ended because of it.
            self.set_status(name, StepState.STOPPED, failure_reason=self.stop.reason)
        else:
            self.set_status(name, StepState.FAILED, failure_reason=outcome.failure_reason)
            if self.failure is None:
                self.failure = outcome.failure_summary or (
                    f"step {name} failed: {outcome.failure_reason}"
                )
