"""Endpoints, promotion gates, rollback and history through the real CLI in subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sagepipe.serving.endpoints import free_port

from .helpers import post, run_cli

ROW = b"67.0,72,60.51,4358.96,1,one-year,credit-card,fiber"


def _ok(workspace: Path, *args: str) -> str:
    result = run_cli(workspace, *args)
    assert result.returncode == 0, f"{args}: {result.stderr}"
    return result.stdout


def _refused(workspace: Path, *args: str) -> str:
    result = run_cli(workspace, *args)
    assert result.returncode == 2, f"{args} should be refused: {result.stdout} {result.stderr}"
    assert result.stderr.startswith("refused: ") and result.stderr.count("\n") == 1
    return result.stderr


def _served(url: str) -> str:
    return post(url, b"", None, method="GET", path="/ping")[2]["X-Sagepipe-Model"]


@pytest.mark.slow  # about 20 CLI runs and 6 model switches: 30-60 s on 2 busy cores
def test_promotion_gates_rollback_and_history(workspace: Path) -> None:
    staging_port, prod_port = str(free_port()), str(free_port())
    try:
        # staging serves the latest Approved version (4), not a newer pending one.
        staging = json.loads(
            _ok(
                workspace,
                "deploy",
                "--stage",
                "staging",
                "--port",
                staging_port,
                "--workers",
                "1",
                "--json",
            )
        )
        assert staging["model_package"].endswith("/4")
        assert post(staging["url"], ROW)[0] == 200
        listed = json.loads(_ok(workspace, "endpoints", "--json"))
        assert [(e["stage"], e["status"], e["pid"], e["url"]) for e in listed] == [
            ("staging", "InService", staging["pid"], staging["url"])
        ]

        assert "no staging smoke test" in _refused(workspace, "promote")
        assert "PendingManualApproval" in _refused(workspace, "promote", "--version", "3")

        # version 4's served metrics disagree with its registered evaluation
        failed = run_cli(workspace, "smoke-test", "--stage", "staging", "--json")
        assert failed.returncode == 1
        assert any("differs from registered" in f for f in json.loads(failed.stdout)["failures"])
        reason = _refused(workspace, "promote")
        assert "last staging smoke test" in reason and "differs from registered" in reason

        # redeploy staging with version 2 on the running endpoint, then it passes
        _ok(
            workspace,
            "deploy",
            "--stage",
            "staging",
            "--version",
            "2",
            "--port",
            staging_port,
            "--workers",
            "1",
        )
        assert _served(staging["url"]).endswith("/2")
        passed = json.loads(_ok(workspace, "smoke-test", "--stage", "staging", "--json"))
        assert passed["passed"] and passed["rows"] > 100
        assert abs(passed["served_metrics"]["auc"] - passed["registered_metrics"]["auc"]) <= 0.02

        _ok(workspace, "promote", "--port", prod_port, "--workers", "1")
        prod_url = f"http://127.0.0.1:{prod_port}"
        assert _served(prod_url).endswith("/2") and post(prod_url, ROW)[0] == 200

        assert "no earlier Approved version" in _refused(workspace, "rollback", "--stage", "prod")
        assert "PendingManualApproval" in _refused(workspace, "rollback", "--to-version", "3")
        _ok(
            workspace,
            "rollback",
            "--stage",
            "prod",
            "--to-version",
            "1",
            "--port",
            prod_port,
            "--workers",
            "1",
        )
        assert _served(prod_url).endswith("/1")
        # one command back to the version served before
        _ok(workspace, "rollback", "--stage", "prod", "--port", prod_port, "--workers", "1")
        assert _served(prod_url).endswith("/2")

        # An explicit version on prod passes promote's gates (version 1 has no staging smoke
        # test) unless forced, and a forced deploy is recorded as one.
        prod_options = ("--stage", "prod", "--version", "1", "--port", prod_port, "--workers", "1")
        reason = _refused(workspace, "deploy", *prod_options)
        assert "no staging smoke test" in reason and "--force" in reason
        assert _served(prod_url).endswith("/2")
        _ok(workspace, "deploy", *prod_options, "--force")
        assert _served(prod_url).endswith("/1")

        history = json.loads(_ok(workspace, "deployments", "--json"))
        assert [(h["action"], h["stage"], h["version"]) for h in history] == [
            ("deploy", "staging", 4),
            ("deploy", "staging", 2),
            ("promote", "prod", 2),
            ("rollback", "prod", 1),
            ("rollback", "prod", 2),
            ("deploy", "prod", 1),
        ]
        assert history[-1]["note"].startswith("forced: promotion gates skipped")
        assert all(h["user"] and h["at"] for h in history)
    finally:
        run_cli(workspace, "undeploy", "--stage", "staging")
        run_cli(workspace, "undeploy", "--stage", "prod")
    assert json.loads(_ok(workspace, "endpoints", "--json")) == []


def test_deploy_without_any_approved_version_explains_what_to_do(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "deploy", "--stage", "staging", "--port", str(free_port()))
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert not (tmp_path / "endpoints").exists() or not list(
        (tmp_path / "endpoints").glob("*/endpoint.json")
    )


def test_promote_refuses_a_version_without_a_staging_smoke_test(workspace: Path) -> None:
    assert "version 2: it has no staging smoke test" in _refused(
        workspace, "promote", "--version", "2"
    )


def test_promote_refuses_a_version_that_is_not_approved(workspace: Path) -> None:
    assert "version 3 is PendingManualApproval, not Approved" in _refused(
        workspace, "promote", "--version", "3"
    )


def test_promote_without_version_needs_a_running_staging_endpoint(workspace: Path) -> None:
    assert "no staging endpoint is running" in _refused(workspace, "promote")


def test_rollback_refuses_a_rejected_or_pending_version(workspace: Path) -> None:
    assert "not Approved" in _refused(workspace, "rollback", "--stage", "prod", "--to-version", "3")


def test_prod_deploy_before_any_promotion_is_refused(workspace: Path) -> None:
    assert "nothing has been promoted to prod" in _refused(
        workspace, "deploy", "--stage", "prod", "--port", str(free_port())
    )


def test_unknown_stage_is_a_usage_error(workspace: Path) -> None:
    result = run_cli(workspace, "deploy", "--stage", "qa")
    assert result.returncode == 2 and "'qa'" in result.stderr
