"""The step contract, run for real: generated entry scripts in a fake /opt/ml tree."""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from framework_paths import FRAMEWORK_SRC
from sagepipe import contract
from sagepipe.packaging import build_code_tree

PREPROCESS = "sagepipe_example.steps:preprocess"
TRAIN = "sagepipe_example.steps:train"


def clean_env(**extra: str) -> dict[str, str]:
    """The job's environment: nothing of the test runner's sys.path leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "SAGEPIPE_"))}
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


def write_csv(folder: Path, rows: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "data.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["feature", "label"])
        writer.writerows([[i, "yes" if i % 3 else "no"] for i in range(rows)])


def install_processing_code(opt_ml: Path, outputs: list[str]) -> Path:
    code = opt_ml / "processing" / "input" / "code"
    for path, data in build_code_tree("processing", PREPROCESS, outputs).files.items():
        (code / path).parent.mkdir(parents=True, exist_ok=True)
        (code / path).write_bytes(data)
    return code / "run_preprocess.py"


def run_processing_job(
    opt_ml: Path, *arguments: str, announce_root: bool = True
) -> subprocess.CompletedProcess[str]:
    entry = install_processing_code(opt_ml, ["test", "train"])
    env = clean_env(SAGEPIPE_OPT_ML=str(opt_ml)) if announce_root else clean_env()
    return subprocess.run(
        [sys.executable, str(entry), *arguments],
        capture_output=True,
        text=True,
        env=env,
        cwd=opt_ml,
    )


def folder_arguments(opt_ml: Path) -> list[str]:
    base = opt_ml / "processing"
    return [
        "--raw", str(base / "input" / "raw"),
        "--test", str(base / "output" / "test"),
        "--train", str(base / "output" / "train"),
    ]  # fmt: skip


def test_processing_entry_binds_folders_and_converts_arguments(tmp_path: Path) -> None:
    opt_ml = tmp_path / "opt_ml"
    write_csv(opt_ml / "processing" / "input" / "raw", rows=20)
    result = run_processing_job(opt_ml, *folder_arguments(opt_ml), "--test_size", "0.5")
    assert result.returncode == 0, result.stderr
    output = opt_ml / "processing" / "output"
    test_rows = (output / "test" / "test.csv").read_text().splitlines()
    train_rows = (output / "train" / "train.csv").read_text().splitlines()
    assert len(test_rows) - 1 == 10  # test_size 0.5 arrived as a float
    assert len(train_rows) - 1 == 10
    assert not (opt_ml / "output" / "message").exists()


def test_processing_exception_writes_the_reason_to_output_message(tmp_path: Path) -> None:
    opt_ml = tmp_path / "opt_ml"
    (opt_ml / "processing" / "input" / "raw").mkdir(parents=True)  # no CSV: the step raises
    result = run_processing_job(opt_ml, *folder_arguments(opt_ml))
    assert result.returncode == 1
    reason = (opt_ml / "output" / "message").read_text()
    first, second = reason.splitlines()
    assert first == f"ValueError: no CSV rows under {opt_ml / 'processing' / 'input' / 'raw'}"
    assert second.startswith('  File "') and second.endswith(", in preprocess")
    assert "Traceback (most recent call last)" in result.stderr


def test_processing_failure_lands_in_the_sandbox_named_by_the_folder_arguments(
    tmp_path: Path,
) -> None:
    # Without SAGEPIPE_OPT_ML the remapped folder arguments say where /opt/ml is.
    opt_ml = tmp_path / "opt_ml"
    (opt_ml / "processing" / "input" / "raw").mkdir(parents=True)
    result = run_processing_job(opt_ml, *folder_arguments(opt_ml), announce_root=False)
    assert result.returncode == 1
    assert (opt_ml / "output" / "message").read_text().startswith("ValueError: no CSV rows")


def test_processing_argument_of_the_wrong_type_is_a_contract_error(tmp_path: Path) -> None:
    opt_ml = tmp_path / "opt_ml"
    write_csv(opt_ml / "processing" / "input" / "raw", rows=4)
    result = run_processing_job(opt_ml, *folder_arguments(opt_ml), "--seed", "seven")
    assert result.returncode == 2
    assert (opt_ml / "output" / "message").read_text() == (
        "ContractError: seed='seven' is not a valid int\n"
    )


def test_processing_unknown_argument_is_a_contract_error(tmp_path: Path) -> None:
    opt_ml = tmp_path / "opt_ml"
    write_csv(opt_ml / "processing" / "input" / "raw", rows=4)
    result = run_processing_job(opt_ml, *folder_arguments(opt_ml), "--tset_size", "0.5")
    assert result.returncode == 2
    reason = (opt_ml / "output" / "message").read_text()
    assert reason.startswith(
        "ContractError: sagepipe_example.steps.preprocess() does not accept the container "
        "argument 'tset_size'; its parameters are raw, seed, test, test_size, train"
    )


def install_training_code(opt_ml: Path) -> Path:
    code = opt_ml / "code"
    code.mkdir(parents=True)
    tarball = build_code_tree("training", TRAIN).tarball()
    with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
        archive.extractall(code)  # trusted: we just built it
    return code


def training_env(opt_ml: Path, hyperparameters: dict[str, object]) -> dict[str, str]:
    return clean_env(
        SM_MODEL_DIR=str(opt_ml / "model"),
        SM_OUTPUT_DIR=str(opt_ml / "output"),
        SM_OUTPUT_DATA_DIR=str(opt_ml / "output" / "data"),
        SM_CHANNELS=json.dumps(["train"]),
        SM_CHANNEL_TRAIN=str(opt_ml / "input" / "data" / "train"),
        SM_HPS=json.dumps(hyperparameters),
    )


def write_training_data(opt_ml: Path) -> None:
    folder = opt_ml / "input" / "data" / "train"
    folder.mkdir(parents=True)
    (folder / "train.csv").write_text("feature,label\n1,yes\n2,yes\n3,no\n")


def test_training_entry_reads_channels_model_dir_and_hyperparameters(tmp_path: Path) -> None:
    opt_ml = tmp_path / "opt_ml"
    write_training_data(opt_ml)
    code = install_training_code(opt_ml)
    # As the framework container runs it: sorted --key value arguments, values JSON-decoded
    # by some launchers and still JSON-quoted by others ("\"entropy\"").
    result = subprocess.run(
        [sys.executable, "run_train.py", "--criterion", '"entropy"', "--n_estimators", "7"],
        capture_output=True,
        text=True,
        cwd=code,
        env=training_env(opt_ml, {"criterion": "entropy", "n_estimators": 7}),
    )
    assert result.returncode == 0, result.stderr
    model = json.loads((opt_ml / "model" / "model.json").read_text())
    assert model == {"criterion": "entropy", "majority": "yes", "n_estimators": 7}


def test_training_hyperparameters_from_sm_hps_alone(tmp_path: Path) -> None:
    opt_ml = tmp_path / "opt_ml"
    write_training_data(opt_ml)
    code = install_training_code(opt_ml)
    result = subprocess.run(
        [sys.executable, "run_train.py"],
        capture_output=True,
        text=True,
        cwd=code,
        env=training_env(opt_ml, {"n_estimators": 3, "sagemaker_program": "run_train.py"}),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((opt_ml / "model" / "model.json").read_text())["n_estimators"] == 3


def test_training_exception_writes_output_failure(tmp_path: Path) -> None:
    opt_ml = tmp_path / "opt_ml"
    write_training_data(opt_ml)
    code = install_training_code(opt_ml)
    result = subprocess.run(
        [sys.executable, "run_train.py", "--fail", "true"],
        capture_output=True,
        text=True,
        cwd=code,
        env=training_env(opt_ml, {}),
    )
    assert result.returncode == 1
    reason = (opt_ml / "output" / "failure").read_text().splitlines()
    assert reason[0] == "RuntimeError: training failed on purpose"
    assert reason[1].endswith(", in train")


def test_import_error_of_the_step_module_is_reported(tmp_path: Path) -> None:
    opt_ml = tmp_path / "opt_ml"
    code = install_training_code(opt_ml)
    (code / "sagepipe_example" / "steps.py").write_text("import not_a_module_anywhere\n")
    result = subprocess.run(
        [sys.executable, "run_train.py"],
        capture_output=True,
        text=True,
        cwd=code,
        env=training_env(opt_ml, {}),
    )
    assert result.returncode == 1
    first = (opt_ml / "output" / "failure").read_text().splitlines()[0]
    assert first == "ModuleNotFoundError: No module named 'not_a_module_anywhere'"


def test_contract_is_stdlib_only() -> None:
    tree = ast.parse((FRAMEWORK_SRC / "sagepipe" / "contract.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "contract.py must not import other sagepipe modules"
            imported.add((node.module or "").split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


def test_importing_the_contract_does_not_load_the_authoring_api() -> None:
    code = (
        "import sys, sagepipe.contract; "
        "print(sorted(m for m in sys.modules if m.startswith('sagepipe')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=clean_env(PYTHONPATH=str(FRAMEWORK_SRC)),
    )
    # sagepipe/__init__.py loads only its stdlib-only engine check and the version.
    assert result.stdout.strip() == (
        "['sagepipe', 'sagepipe._one_engine', 'sagepipe._version', 'sagepipe.contract']"
    )


@pytest.mark.parametrize(
    ("text", "target", "expected"),
    [
        ("true", bool, True),
        ("False", bool, False),
        ("0", bool, False),
        ("yes", bool, True),
        ("3", int, 3),
        ("0.25", float, 0.25),
        ("3", float, 3.0),
        ("a b", str, "a b"),
    ],
)
def test_convert_by_annotation(text: str, target: type, expected: object) -> None:
    assert contract.convert(text, target, "x") == expected


@pytest.mark.parametrize(
    ("text", "target", "message"),
    [
        ("maybe", bool, "x='maybe' is not a boolean; use true or false"),
        ("1.5", int, "x='1.5' is not a valid int"),
        ("abc", float, "x='abc' is not a valid float"),
    ],
)
def test_convert_rejects_text_with_the_rule(text: str, target: type, message: str) -> None:
    with pytest.raises(contract.ContractError) as caught:
        contract.convert(text, target, "x")
    assert str(caught.value) == message


def test_parse_args_accepts_both_spellings() -> None:
    assert contract.parse_args(["--test-size", "0.2", "--seed=3"]) == {
        "test_size": "0.2",
        "seed": "3",
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["stray"], "unexpected argument 'stray'; expected --name value pairs"),
        (["--seed"], "argument '--seed' has no value"),
    ],
)
def test_parse_args_rejects_malformed_arguments(argv: list[str], message: str) -> None:
    with pytest.raises(contract.ContractError) as caught:
        contract.parse_args(argv)
    assert str(caught.value) == message


def test_bind_processing_creates_output_folders(tmp_path: Path) -> None:
    from sagepipe_example import steps

    kwargs = contract.bind_processing(
        steps.preprocess,
        [
            "--raw",
            str(tmp_path / "raw"),
            "--train",
            str(tmp_path / "tr"),
            "--test",
            str(tmp_path / "te"),
        ],
        outputs=["train", "test"],
    )
    assert kwargs == {"raw": tmp_path / "raw", "train": tmp_path / "tr", "test": tmp_path / "te"}
    assert (tmp_path / "tr").is_dir() and (tmp_path / "te").is_dir()
    assert not (tmp_path / "raw").exists()  # inputs are never invented


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Path", Path),
        ("pathlib.Path | None", Path),
        ("int | None", int),
        ("Optional[float]", float),
        ("typing.Optional[bool]", bool),
        ("None | str", str),
        ("list[str]", None),
        ("int | str", None),
    ],
)
def test_annotations_read_as_text_for_older_container_pythons(
    text: str, expected: type | None
) -> None:
    # Python 3.9 (SageMaker's scikit-learn 1.2-1 image) cannot evaluate `X | None`.
    assert contract._annotation_from_text(text) is expected


def test_describe_falls_back_to_annotation_text_when_evaluation_fails() -> None:
    def step(data, flag=False):  # type: ignore[no-untyped-def]
        return None

    # What `from __future__ import annotations` leaves behind, with a name that does not
    # resolve in this module, as `X | None` does not on Python 3.9.
    step.__annotations__ = {"data": "Path | NotDefinedHere", "flag": "bool"}
    with pytest.raises(contract.ContractError, match="cannot read the annotations"):
        contract.describe(step)
    step.__annotations__ = {"data": "Path | None", "flag": "bool", "missing": "Undefined"}
    with pytest.raises(contract.ContractError, match="cannot read the annotations"):
        contract.describe(step)
    step.__annotations__ = {"data": "Path | None", "flag": "Optional[bool]"}
    specs = contract.describe(step)
    assert [(s.name, s.is_path, s.type) for s in specs] == [
        ("data", True, Path),
        ("flag", False, bool),
    ]
