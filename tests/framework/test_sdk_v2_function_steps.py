"""Two ``@step`` functions the real SageMaker SDK v2 built (sdk_v2/generate.py) run locally.

The remote-function contract: the SDK's own job driver and bootstrap script, the pickled
function and arguments in S3 (here: the workspace, through the loopback S3 endpoint),
``--property_references`` for the upstream result, results to ``S3OutputPath``. The job runs
in the Python and SDK version the definition names, never in the executor's environment.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest

from sagepipe.local import execute, namespace

DATA = Path(__file__).resolve().parent / "sdk_v2" / "function_steps"


@pytest.mark.slow  # the SDK imports in ~10 s per job; the slow tier still runs it
def test_sdk_v2_function_steps_run_in_the_python_and_sdk_the_definition_names(
    tmp_path: Path,
) -> None:
    if not namespace.available()[0]:
        pytest.skip("the SDK's job driver reads /opt/ml paths literally: needs a namespace")
    workspace = tmp_path / "ws"
    shutil.copytree(DATA / "s3", workspace / "s3")
    definition = json.loads((DATA / "definition.json").read_text())
    arguments = definition["Steps"][0]["Arguments"]["AlgorithmSpecification"]
    python = arguments["ContainerArguments"][
        arguments["ContainerArguments"].index("--client_python_version") + 1
    ]

    execution = execute(definition, workspace=workspace, pipeline_name="sdk-v2-function-steps")
    assert execution.status == "Succeeded", execution.failure_reason

    results = sorted((workspace / "s3").rglob("results/payload.pkl"))
    assert len(results) == 2
    values = [pickle.loads(path.read_bytes()) for path in results]
    total = next(v for v in values if isinstance(v, dict))
    assert total["total"] == sum(i * i for i in range(5)) + 100
    assert total["python"].startswith(python + ".")
    runtime = execution.steps["Total"].properties["Runtime"]
    assert runtime["Python"].startswith(python + ".")
    assert (
        runtime["Packages"]["sagemaker"]
        == arguments["ContainerArguments"][
            arguments["ContainerArguments"].index("--client_sagemaker_pysdk_version") + 1
        ]
    )
