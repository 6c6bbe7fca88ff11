"""The step durations a pipeline's last run leaves for the next run's order."""

from __future__ import annotations

import json

import pytest

from sagepipe.local.step_times import last_seconds, remember_seconds, times_file


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEPIPE_RUNTIME_CACHE", str(tmp_path / "cache"))


def test_a_pipelines_durations_are_kept_over_its_older_ones_and_apart_from_others():
    remember_seconds("churn", {"Train": 2.0, "Evaluate": 0.5})
    remember_seconds("churn", {"Train": 3.0})
    remember_seconds("other", {"Train": 9.0})

    assert last_seconds("churn") == {"Train": 3.0, "Evaluate": 0.5}
    assert last_seconds("other") == {"Train": 9.0}
    assert last_seconds("never-ran") == {}


def test_a_new_cli_orders_its_first_run_by_the_same_pipelines_run_from_another_cli():
    remember_seconds("churn", {"Train": 2.0})
    data = json.loads(times_file().read_text())
    (mine,) = data
    data = {
        "churn /old/project/.venv/bin/python": {"Train": 7.0},
        "churn /other/project/.venv/bin/python": data[mine],  # the newest: last
        "fraud /other/project/.venv/bin/python": {"Train": 9.0},
    }
    times_file().write_text(json.dumps(data))

    assert last_seconds("churn") == {"Train": 2.0}
    assert last_seconds("churn-v2") == {}  # another name borrows nothing
    remember_seconds("churn", {"Train": 3.0})
    assert last_seconds("churn") == {"Train": 3.0}  # its own entry from now on


@pytest.mark.parametrize(
    "content",
    ["not json", "[1, 2]", json.dumps({"x": {"Train": "slow"}}), json.dumps({"x": 3})],
)
def test_a_damaged_file_orders_nothing_and_is_replaced_by_the_next_run(content):
    times_file().parent.mkdir(parents=True)
    times_file().write_text(content)

    assert last_seconds("churn") == {}
    remember_seconds("churn", {"Train": 1.5})
    assert last_seconds("churn") == {"Train": 1.5}


def test_negative_or_infinite_durations_in_the_file_are_ignored():
    remember_seconds("churn", {"Train": 1.0})
    data = json.loads(times_file().read_text())
    (label,) = data
    data[label] = {"Train": 1.0, "Bad": -1, "Huge": "inf"}
    times_file().write_text(json.dumps(data))

    assert last_seconds("churn") == {"Train": 1.0}


def test_the_file_is_private_to_its_owner():
    remember_seconds("churn", {"Train": 1.0})

    assert times_file().stat().st_mode & 0o077 == 0
