"""Training writes a servable model directory; evaluation writes SageMaker's metric layout."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }} import data
from {{ cookiecutter.package_name }}.errors import InputDataError
from {{ cookiecutter.package_name }}.steps.evaluate import evaluate_model
from {{ cookiecutter.package_name }}.steps.train import train_model


def test_model_dir_holds_model_metadata_and_serving_handler(model_dir: Path) -> None:
    assert (model_dir / "model.joblib").is_file()
    handler = (model_dir / "code" / "inference.py").read_text()
    for function in ("def model_fn", "def input_fn", "def predict_fn", "def output_fn"):
        assert function in handler
    metadata = json.loads((model_dir / "model.json").read_text())
    assert metadata["features"] == list(data.FEATURES)
    assert metadata["hyperparameters"]["max_iter"] == 50


def test_evaluation_follows_sagemaker_binary_classification_layout(
    model_dir: Path, processed: dict[str, Path], tmp_path: Path
) -> None:
    report = evaluate_model(model_dir, processed["test"], tmp_path / "evaluation")
    written = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    assert written == report
    block = written["binary_classification_metrics"]
    for name in ("accuracy", "precision", "recall", "f1", "auc"):
        assert set(block[name]) == {"value", "standard_deviation"}
        assert 0.0 <= block[name]["value"] <= 1.0
    # The model must beat always predicting the majority class, or it learnt nothing.
    assert block["accuracy"]["value"] > block["accuracy_best_constant_classifier"]["value"]
    assert block["auc"]["value"] > 0.7
    matrix = block["confusion_matrix"]
    assert (
        sum(matrix[a][b] for a in "01" for b in "01")
        == len((processed["test"] / "test.csv").read_text().splitlines()) - 1
    )


def test_evaluate_reads_the_model_from_model_tar_gz(
    model_dir: Path, processed: dict[str, Path], tmp_path: Path
) -> None:
    packed = tmp_path / "packed"
    packed.mkdir()
    with tarfile.open(packed / "model.tar.gz", "w:gz") as tar:
        for item in sorted(model_dir.rglob("*")):
            tar.add(item, arcname=str(item.relative_to(model_dir)), recursive=False)
    from_tar = evaluate_model(packed, processed["test"], tmp_path / "a")
    from_dir = evaluate_model(model_dir, processed["test"], tmp_path / "b")
    assert from_tar == from_dir


def test_training_twice_gives_the_same_predictions(
    model_dir: Path, processed: dict[str, Path], tmp_path: Path
) -> None:
    train_model(processed["train"], tmp_path / "again", max_iter=50)
    first = evaluate_model(model_dir, processed["test"], tmp_path / "a")
    second = evaluate_model(tmp_path / "again", processed["test"], tmp_path / "b")
    assert first == second


def test_out_of_range_hyperparameter_is_named(processed: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match=r"learning_rate=0\.0"):
        train_model(processed["train"], tmp_path / "model", learning_rate=0.0)
    assert not (tmp_path / "model").exists()


def test_missing_model_says_to_train_first(processed: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="run the training step first"):
        evaluate_model(tmp_path, processed["test"], tmp_path / "evaluation")
