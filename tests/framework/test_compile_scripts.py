"""Steps may point at plain scripts that follow the container contract themselves."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from sagepipe import GraphError, ParameterFloat, Pipeline, Processing, Training, compile_pipeline
from sagepipe.local import execute
from sagepipe_example import steps
from sagepipe_example.pipeline import ROLE

SCRIPTS = Path(__file__).parent / "example_scripts"


def build() -> Pipeline:
    factor = ParameterFloat("Factor", default=2.0)
    prepare = Processing(
        "Prepare",
        script=SCRIPTS / "prepare.py",
        inputs={"raw": "s3://bucket/raw"},
        outputs=["prepared"],
        arguments={"factor": factor},
    )
    fit = Training(
        "Fit",
        script=SCRIPTS / "fit.py",
        channels={"prepared": prepare.outputs.prepared},
        hyperparameters={"offset": 0.5},
    )
    return Pipeline("scripts", parameters=[factor], steps=[prepare, fit])


def test_script_step_runs_the_script_with_its_folder() -> None:
    compiled = compile_pipeline(build(), bucket="bucket", role=ROLE)
    prepare = compiled.definition["Steps"][0]["Arguments"]
    assert prepare["AppSpecification"]["ContainerEntrypoint"] == [
        "python3",
        "/opt/ml/processing/input/code/prepare.py",
    ]
    assert prepare["AppSpecification"]["ContainerArguments"] == [
        "--prepared", "/opt/ml/processing/output/prepared",
        "--raw", "/opt/ml/processing/input/raw",
        "--factor", {"Get": "Parameters.Factor"},
    ]  # fmt: skip
    digest = compiled.code_digests["Prepare"]
    shipped = sorted(u.split(f"/code/{digest}/")[1] for u in compiled.artifacts if digest in u)
    # Both scripts share a folder, so one tree (and digest) serves both steps; the
    # training step's archive of it sits under the same digest.
    assert compiled.code_digests["Fit"] == digest
    assert shipped == [
        "fit.py",
        "prepare.py",
        "sagepipe/__init__.py",
        "sagepipe/contract.py",
        "scaling.py",
        "sourcedir.tar.gz",
    ]
    hyperparameters = compiled.definition["Steps"][1]["Arguments"]["HyperParameters"]
    assert hyperparameters["sagemaker_program"] == '"fit.py"'
    tarball = compiled.artifacts[json.loads(hyperparameters["sagemaker_submit_directory"])]
    with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
        assert "scaling.py" in archive.getnames()


def test_script_pipeline_runs_locally(tmp_path: Path) -> None:
    compiled = compile_pipeline(build(), bucket="bucket", role=ROLE)
    compiled.write_artifacts(tmp_path / "s3")
    raw = tmp_path / "s3" / "bucket" / "raw"
    raw.mkdir(parents=True)
    (raw / "numbers.txt").write_text("1\n2\n3\n")
    execution = execute(json.loads(compiled.to_json()), workspace=tmp_path)
    assert execution.status == "Succeeded", execution.failure_reason
    models = list((tmp_path / "s3" / "bucket").rglob("model.tar.gz"))
    assert len(models) == 1
    with tarfile.open(models[0]) as archive:
        model = json.load(archive.extractfile("model.json"))  # type: ignore[arg-type]
    assert model == {"mean": 4.5}  # (2 + 4 + 6) / 3 + 0.5


def test_fn_and_script_are_exclusive() -> None:
    with pytest.raises(GraphError, match=r"give either fn= .* or script= .*not both"):
        Processing("P", steps.preprocess, script=SCRIPTS / "prepare.py")
    with pytest.raises(GraphError, match="not both and not neither"):
        Processing("P")


def test_missing_script_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(GraphError) as caught:
        Processing("P", script=tmp_path / "nope.py")
    assert str(caught.value) == (
        f"step 'P': script {str(tmp_path / 'nope.py')!r} is not an existing .py file; pass "
        "e.g. Path(__file__).parent / 'scripts' / 'prepare.py'"
    )


def test_script_argument_names_must_be_identifiers() -> None:
    with pytest.raises(GraphError, match="argument name 'test-size' must be a Python identifier"):
        Processing("P", script=SCRIPTS / "prepare.py", arguments={"test-size": 0.2})
