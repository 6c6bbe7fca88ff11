"""The scheduler runs step types it has never heard of: it only knows runners by type.

Fake step types ("Sleep", "Decide", "Explode") and fake runners stand in for real ones;
that the real executor works through the same interface is what every other local test
shows.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest

from sagepipe.local.history import StepRun
from sagepipe.local.scheduler import Scheduler, StepOutcome, StopRequest, Work
from sagepipe.local.states import StepState


@dataclass(frozen=True)
class FakeStep:
    name: str
    type: str
    depends_on: frozenset[str] = frozenset()
    parent: str | None = None
    branch: bool | None = None


class SleepRunner:
    """A concurrent type: sleeps on a worker thread, counting how many run at once."""

    concurrent = True

    def __init__(self, seconds=0.2):
        self.seconds = seconds
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.order: list[str] = []

    def prepare(self, step):
        def call():
            with self.lock:
                self.running += 1
                self.most = max(self.most, self.running)
                self.order.append(step.name)
            time.sleep(self.seconds)
            with self.lock:
                self.running -= 1
            return StepOutcome(StepState.SUCCEEDED, {"Slept": step.name})

        return Work(call, log_path=f"/logs/{step.name}")


class DecideRunner:
    """An inline type that branches: its outcome picks which children run."""

    concurrent = False

    def __init__(self, outcome):
        self.outcome = outcome

    def prepare(self, step):
        return Work(lambda: StepOutcome(StepState.SUCCEEDED, {"Said": "yes"}, branch=self.outcome))


class ExplodeRunner:
    """An inline type that fails, with its own execution-level reason."""

    concurrent = False

    def prepare(self, step):
        return Work(
            lambda: StepOutcome(
                StepState.FAILED, failure_reason="boom", failure_summary=f"{step.name} exploded"
            )
        )


def _schedule(steps, runners, *, max_workers=4, stop=None, expected=None):
    steps = {s.name: s for s in steps}
    records = {n: StepRun(name=n, type=s.type, status=StepState.PENDING) for n, s in steps.items()}
    events: list[tuple[str, str]] = []
    scheduler = Scheduler(
        steps,
        runners,
        records,
        notify=lambda run: events.append((run.name, str(run.status))),
        stop=stop or StopRequest(),
        max_workers=max_workers,
        properties={},
        inputs={},
        grace_seconds=0.5,
        expected_seconds=expected,
    )
    return scheduler, records, events


def test_unknown_types_run_in_dependency_order_within_the_worker_limit():
    sleep = SleepRunner()
    steps = [
        FakeStep("A", "Sleep"),
        FakeStep("B", "Sleep"),
        FakeStep("C", "Sleep"),
        FakeStep("After", "Sleep", depends_on=frozenset({"A", "B", "C"})),
    ]
    scheduler, records, events = _schedule(steps, {"Sleep": sleep}, max_workers=2)

    scheduler.run()

    assert {n: r.status for n, r in records.items()} == dict.fromkeys("ABC", "Succeeded") | {
        "After": "Succeeded"
    }
    assert sleep.most == 2  # three ready steps, two slots
    assert sleep.order[-1] == "After"
    assert scheduler.properties["After"] == {"Slept": "After"}
    assert records["A"].log_path == "/logs/A" and records["A"].duration_seconds >= 0.2
    assert events[:2] == [("A", "Executing"), ("B", "Executing")]
    assert scheduler.failure is None


def test_of_the_steps_ready_at_once_the_longest_known_one_starts_first():
    # Definition order would run Short first and leave the long step to end last.
    sleep = SleepRunner(0.05)
    steps = [FakeStep("Short", "Sleep"), FakeStep("Other", "Sleep"), FakeStep("Long", "Sleep")]
    expected = {"Short": 0.1, "Other": 0.5, "Long": 5.0}
    scheduler, records, _ = _schedule(steps, {"Sleep": sleep}, max_workers=1, expected=expected)

    scheduler.run()

    assert sleep.order == ["Long", "Other", "Short"]
    assert all(r.status == "Succeeded" for r in records.values())


def test_with_no_past_run_the_step_heading_the_longest_chain_starts_first():
    sleep = SleepRunner(0.05)
    steps = [
        FakeStep("Leaf", "Sleep"),
        FakeStep("Head", "Sleep"),
        FakeStep("Middle", "Sleep", depends_on=frozenset({"Head"})),
        FakeStep("Last", "Sleep", depends_on=frozenset({"Middle"})),
    ]
    scheduler, _, _ = _schedule(steps, {"Sleep": sleep}, max_workers=1)

    scheduler.run()

    # The chain first; then Leaf and Last tie (one step each) and definition order decides.
    assert sleep.order == ["Head", "Middle", "Leaf", "Last"]


def test_a_chains_length_counts_what_waits_for_it_not_only_the_step_itself():
    from sagepipe.local.scheduler import remaining_seconds

    steps = {
        "Train": FakeStep("Train", "Sleep"),
        "Check": FakeStep("Check", "Decide", depends_on=frozenset({"Train"})),
        "Register": FakeStep("Register", "Sleep", parent="Check", branch=True),
        "Side": FakeStep("Side", "Sleep"),
    }
    expected = {"Train": 1.0, "Check": 0.0, "Register": 2.0, "Side": 2.5}

    remaining = remaining_seconds(steps, expected)

    assert remaining == {"Train": 3.0, "Check": 2.0, "Register": 2.0, "Side": 2.5}


def test_a_chain_as_long_as_a_definition_may_be_is_weighed_without_recursion():
    from sagepipe.local.scheduler import remaining_seconds
    from sagepipe.local.validate import MAX_STEPS

    names = [f"S{i}" for i in range(MAX_STEPS)]
    steps = {
        name: FakeStep(name, "Sleep", depends_on=frozenset(names[i - 1 : i]))
        for i, name in enumerate(names)
    }

    remaining = remaining_seconds(steps, {})

    assert remaining["S0"] == MAX_STEPS and remaining[names[-1]] == 1.0


def test_jobs_start_before_in_process_steps_that_are_ready_with_them():
    order: list[str] = []

    class Inline:
        concurrent = False

        def prepare(self, step):
            def call():
                order.append(step.name)
                return StepOutcome(StepState.SUCCEEDED)

            return Work(call)

    sleep = SleepRunner(0.05)
    steps = [FakeStep("Check", "Inline"), FakeStep("Job", "Sleep")]
    scheduler, _, events = _schedule(
        steps, {"Inline": Inline(), "Sleep": sleep}, expected={"Check": 9.0, "Job": 0.1}
    )

    scheduler.run()

    assert events[0] == ("Job", "Executing")  # its thread runs while the check holds ours
    assert order == ["Check"] and sleep.order == ["Job"]


@pytest.mark.parametrize(("outcome", "ran", "skipped"), [(True, "Yes", "No"), (False, "No", "Yes")])
def test_a_branching_step_of_any_type_picks_the_children_that_run(outcome, ran, skipped):
    steps = [
        FakeStep("Decide", "Decide"),
        FakeStep("Yes", "Sleep", frozenset({"Decide"}), parent="Decide", branch=True),
        FakeStep("No", "Sleep", frozenset({"Decide"}), parent="Decide", branch=False),
    ]
    runners = {"Decide": DecideRunner(outcome), "Sleep": SleepRunner(0.01)}
    scheduler, records, _ = _schedule(steps, runners)

    scheduler.run()

    assert records["Decide"].properties == {"Said": "yes"}
    assert records[ran].status == StepState.SUCCEEDED
    assert records[skipped].status == StepState.NOT_EXECUTED


def test_a_failure_stops_new_steps_and_names_the_execution_failure():
    steps = [
        FakeStep("Explode", "Explode"),
        FakeStep("Later", "Sleep", depends_on=frozenset({"Explode"})),
        FakeStep("Running", "Sleep"),
        FakeStep("Independent", "Sleep", depends_on=frozenset({"Running"})),
    ]
    scheduler, records, _ = _schedule(steps, {"Explode": ExplodeRunner(), "Sleep": SleepRunner()})

    scheduler.run()

    assert records["Explode"].status == StepState.FAILED
    assert records["Explode"].failure_reason == "boom"
    assert scheduler.failure == "Explode exploded"
    # Running had started with it and ends; what waited for Running never starts.
    assert records["Running"].status == StepState.SUCCEEDED
    assert records["Independent"].status == StepState.NOT_EXECUTED
    assert records["Later"].status == StepState.NOT_EXECUTED


def test_a_worker_that_raises_fails_its_step_instead_of_losing_it():
    class Broken:
        concurrent = True

        def prepare(self, step):
            def call():
                raise RuntimeError("the runner has a bug")

            return Work(call)

    scheduler, records, _ = _schedule([FakeStep("A", "Broken")], {"Broken": Broken()})

    scheduler.run()

    assert records["A"].status == StepState.FAILED
    assert records["A"].failure_reason == "RuntimeError: the runner has a bug"
    assert scheduler.failure == "step A failed: RuntimeError: the runner has a bug"


def test_a_stop_request_reaches_running_steps_and_forces_after_the_grace_period():
    stop = StopRequest()
    told: list[bool] = []
    stop.listen(told.append)

    class UntilStopped:
        concurrent = True

        def prepare(self, step):
            def call():
                stop.request("test stop")
                while len(told) < 2:  # wait for the forced second notice
                    time.sleep(0.05)
                return StepOutcome(StepState.FAILED, failure_reason="killed")

            return Work(call)

    steps = [FakeStep("Long", "Wait"), FakeStep("Next", "Wait", frozenset({"Long"}))]
    scheduler, records, _ = _schedule(steps, {"Wait": UntilStopped()}, stop=stop)

    scheduler.run()

    assert told == [False, True]  # asked to stop, then forced once the grace period ran out
    assert records["Long"].status == StepState.STOPPED
    assert records["Long"].failure_reason == "test stop"
    assert records["Next"].status == StepState.NOT_EXECUTED
    assert scheduler.failure is None


def test_a_type_without_a_runner_is_refused_before_any_step_starts():
    with pytest.raises(LookupError, match="no runner for step type 'Teleport'"):
        _schedule([FakeStep("A", "Sleep"), FakeStep("B", "Teleport")], {"Sleep": SleepRunner()})
