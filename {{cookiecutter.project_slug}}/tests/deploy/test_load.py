"""Bounded load: several concurrent clients, zero 5xx, and a model switch under load."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from sagepipe.serving import endpoints
from sagepipe.serving.spec import EndpointSpec

from .conftest import sample_rows, start_server, variant_for
from .helpers import pack, post

CLIENTS = 4
# The load is bounded by work done, not wall time, so a busy machine only makes it slower:
# the switch starts after BEFORE answers from the first model, and the clients stop once
# AFTER answers came from the second. LIMIT_SECONDS only stops a hung run.
BEFORE = 60
AFTER = 60
LIMIT_SECONDS = 300.0


@pytest.mark.slow  # about 15-20 s on an idle machine
def test_concurrent_load_with_a_redeploy_in_the_middle_has_no_failed_request(
    model_tarball: Path, processed: dict[str, Path], tmp_path: Path
) -> None:
    from {{ cookiecutter.package_name }}.steps.train import train_model

    other_dir = tmp_path / "other"
    train_model(processed["train"], other_dir, max_iter=5, max_depth=2)
    other = pack(other_dir, tmp_path / "other.tar.gz")
    spec = EndpointSpec(
        "load", [variant_for(model_tarball, tmp_path, package="group/1")], max_payload_mb=1
    )
    state = start_server(tmp_path, spec, workers=2)
    rows = [row.encode() for row in sample_rows(processed["test"], 50)]
    statuses: Counter[int] = Counter()
    models: Counter[str] = Counter()
    errors: list[str] = []
    deadline = time.monotonic() + LIMIT_SECONDS
    lock = threading.Lock()
    warmed_up, done = threading.Event(), threading.Event()

    def client(index: int) -> None:
        n = index
        while not done.is_set() and time.monotonic() < deadline:
            n += 1
            body = rows[n % len(rows)] if n % 10 else b"not,enough"  # every 10th request is bad
            try:
                status, _, headers = post(state.url, body, "text/csv", "text/csv")
            except OSError as err:  # a refused or reset connection is a dropped request
                with lock:
                    errors.append(repr(err))
                continue
            with lock:
                statuses[status] += 1
                models[headers.get("X-Sagepipe-Model", "")] += 1
                if models["group/1"] >= BEFORE:
                    warmed_up.set()
                if models["group/2"] >= AFTER:
                    done.set()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        assert warmed_up.wait(LIMIT_SECONDS), f"no {BEFORE} answers in {LIMIT_SECONDS} s"
        switched = EndpointSpec(
            "load", [variant_for(other, tmp_path, package="group/2")], max_payload_mb=1
        )
        endpoints.deploy(
            switched, workspace=tmp_path, stage="test", host="127.0.0.1", port=state.port, workers=2
        )
    except BaseException:
        done.set()  # stop the clients now; a normal run stops them after AFTER answers
        raise
    finally:
        for thread in threads:
            thread.join()
        endpoints.stop(tmp_path, "load")
    assert errors == []
    assert not [s for s in statuses if s >= 500], statuses
    assert statuses[200] > 0 and statuses[400] > 0
    assert set(statuses) <= {200, 400}
    assert models["group/1"] >= BEFORE, models
    assert models["group/2"] >= AFTER, f"the second model never answered {AFTER} times: {models}"
