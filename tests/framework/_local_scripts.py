"""Container-contract job scripts for the executor tests (stdlib only, no project code).

They follow the contract a real SageMaker container offers: processing scripts find
``/opt/ml`` from their own location (``/opt/ml/processing/input/code/x.py``), training
scripts use the ``SM_*`` variables and ``--key value`` hyperparameters.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

REFERENCE = Path("/work/shared/reference")

PREPROCESS = r"""
import csv, os, sys
from pathlib import Path
opt_ml = Path(__file__).resolve().parents[3]
if os.environ.get("FAIL_STEP") == "Preprocess":
    (opt_ml / "output" / "message").write_text("preprocess refused: FAIL_STEP is set\n")
    sys.exit(3)
rows = []
for f in sorted((opt_ml / "processing" / "input").glob("*.csv")):
    with open(f) as fh:
        rows += list(csv.DictReader(fh))
if not rows:
    sys.exit("no rows in the input")
cut = int(len(rows) * 0.7)
for name, part in (("train", rows[:cut]), ("test", rows[cut:])):
    out = opt_ml / "processing" / name
    with open(out / f"{name}.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["x", "y"])
        w.writeheader(); w.writerows(part)
print("preprocessed", len(rows), "rows")
"""

TRAIN = r"""
import argparse, csv, json, os, sys, time
parser = argparse.ArgumentParser()
parser.add_argument("--n_estimators", type=int, required=True)
parser.add_argument("--sleep", type=float, default=0.0)
args = parser.parse_args()
model_dir = os.environ["SM_MODEL_DIR"]
if os.environ.get("FAIL_STEP") == "Train":
    with open("/".join([os.environ["SM_OUTPUT_DIR"], "failure"]), "w") as fh:
        fh.write("training diverged: loss is nan\nmore detail\n")
    sys.exit(1)
if os.environ.get("PID_FILE"):
    with open(os.environ["PID_FILE"] + ".tmp", "w") as fh:
        fh.write(str(os.getpid()))
    os.replace(os.environ["PID_FILE"] + ".tmp", os.environ["PID_FILE"])
time.sleep(args.sleep + float(os.environ.get("TRAIN_SLEEP", "0")))
with open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv")) as fh:
    xs = [float(r["x"]) for r in csv.DictReader(fh)]
hps = json.load(open(os.path.join(os.environ["SM_INPUT_CONFIG_DIR"], "hyperparameters.json")))
with open(os.path.join(model_dir, "model.json"), "w") as fh:
    json.dump({"threshold": sum(xs) / len(xs), "n_estimators": args.n_estimators,
               "channels": json.loads(os.environ["SM_CHANNELS"]), "hps_file": hps}, fh)
os.makedirs(os.path.join(model_dir, "code"), exist_ok=True)
open(os.path.join(model_dir, "code", "inference.py"), "w").write("def model_fn(d):\n    return d\n")
print("trained with", args.n_estimators)
"""

EVALUATE = r"""
import csv, json, os, sys, tarfile
from pathlib import Path
opt_ml = Path(__file__).resolve().parents[3]
if os.environ.get("FAIL_STEP") == "Evaluate":
    raise RuntimeError("evaluation exploded")
with tarfile.open(opt_ml / "processing" / "model" / "model.tar.gz") as tar:
    model = json.load(tar.extractfile("model.json"))
with open(opt_ml / "processing" / "test" / "test.csv") as fh:
    rows = list(csv.DictReader(fh))
hits = sum((float(r["x"]) > model["threshold"]) == (r["y"] == "1") for r in rows)
accuracy = hits / len(rows)
report = {"metrics": {"accuracy": {"value": accuracy, "standard_deviation": "NaN"}}}
(opt_ml / "processing" / "evaluation" / "evaluation.json").write_text(json.dumps(report))
print("accuracy", accuracy)
"""

SM_TRAIN_SH = """#!/bin/sh
set -e
cd "$SM_CHANNEL_CODE"
exec python3 train.py --n_estimators "$SM_HP_N_ESTIMATORS"
"""


def load_reference(name: str) -> dict[str, Any]:
    """One of the SDK-emitted definitions, unchanged."""
    return json.loads((REFERENCE / f"sdk-{name}-definition-example.json").read_text())


def s3_path(s3_root: Path, uri: str) -> Path:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return s3_root / bucket / key


def write_object(s3_root: Path, uri: str, data: bytes | str) -> None:
    path = s3_path(s3_root, uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def sourcedir_tar(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def write_data(s3_root: Path, rows: int = 200, uri: str = "s3://my-ml-bucket/raw/data.csv") -> None:
    """Deterministic data: y is 1 when x is above the middle, with a few flipped labels."""
    lines = ["x,y"]
    for i in range(rows):
        x = (i * 37) % rows
        y = int(x > rows / 2) if i % 10 else int(x <= rows / 2)
        lines.append(f"{x},{y}")
    write_object(s3_root, uri, "\n".join(lines) + "\n")


def stage_code(definition: dict[str, Any], s3_root: Path, train: str = TRAIN) -> None:
    """Write every code object the definition points at, as the compiler would."""
    scripts = {"preprocess.py": PREPROCESS, "evaluate.py": EVALUATE}

    def visit(step: dict[str, Any]) -> None:
        args = step.get("Arguments", {})
        for item in args.get("ProcessingInputs", []):
            uri = item["S3Input"]["S3Uri"]
            if isinstance(uri, str) and uri.endswith(".py"):
                write_object(s3_root, uri, scripts[uri.rsplit("/", 1)[1]])
        submit = args.get("HyperParameters", {}).get("sagemaker_submit_directory")
        if submit:
            write_object(s3_root, json.loads(submit), sourcedir_tar({"train.py": train}))
        for channel in args.get("InputDataConfig", []):
            uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
            if channel["ChannelName"] == "code":
                write_object(s3_root, uri + "/train.py", train)
            elif channel["ChannelName"] == "sm_drivers":
                write_object(s3_root, uri + "/sm_train.sh", SM_TRAIN_SH)
        for child in args.get("IfSteps", []) + args.get("ElseSteps", []):
            visit(child)

    for step in definition["Steps"]:
        visit(step)


def staged_workspace(tmp_path: Path, name: str = "v2") -> tuple[dict[str, Any], Path]:
    """A workspace holding data and code objects for one reference definition."""
    definition = load_reference(name)
    workspace = tmp_path / ".mlops"
    write_data(workspace / "s3")
    stage_code(definition, workspace / "s3")
    return definition, workspace
