"""Step functions in the shape a project writes them: plain, typed, framework-free."""

from __future__ import annotations

import csv
import json
import random
import tarfile
from pathlib import Path


def preprocess(raw: Path, train: Path, test: Path, test_size: float = 0.25, seed: int = 0) -> None:
    """Split every CSV row under ``raw`` into train.csv and test.csv."""
    rows: list[list[str]] = []
    header: list[str] = []
    for source in sorted(raw.rglob("*.csv")):
        with source.open(newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            rows.extend(reader)
    if not rows:
        raise ValueError(f"no CSV rows under {raw}")
    random.Random(seed).shuffle(rows)
    cut = max(1, int(len(rows) * test_size))
    for folder, part in ((test, rows[:cut]), (train, rows[cut:])):
        with (folder / f"{folder.name}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(part)


def train(
    train: Path,
    model_dir: Path,
    n_estimators: int = 10,
    criterion: str = "gini",
    fail: bool = False,
) -> None:
    """'Train' a majority-class model and save it with the hyperparameters it saw."""
    if fail:
        raise RuntimeError("training failed on purpose")
    with (train / "train.csv").open(newline="") as handle:
        labels = [row["label"] for row in csv.DictReader(handle)]
    majority = max(sorted(set(labels)), key=labels.count)
    model = {"majority": majority, "n_estimators": n_estimators, "criterion": criterion}
    (model_dir / "model.json").write_text(json.dumps(model, sort_keys=True))


def evaluate(model: Path, test: Path, evaluation: Path) -> None:
    """Score the model on test.csv and write evaluation.json in ModelMetrics layout."""
    with tarfile.open(next(model.glob("*.tar.gz"))) as archive:
        member = archive.extractfile("model.json")
        assert member is not None
        fitted = json.loads(member.read())
    with (test / "test.csv").open(newline="") as handle:
        labels = [row["label"] for row in csv.DictReader(handle)]
    accuracy = sum(label == fitted["majority"] for label in labels) / len(labels)
    report = {"metrics": {"accuracy": {"value": accuracy}}}
    (evaluation / "evaluation.json").write_text(json.dumps(report))
