"""SageMaker XGBoost built-in algorithm mode, run with the xgboost of the image's runtime.

Follows aws/sagemaker-xgboost-container's algorithm mode: every hyperparameter arrives as
a string in ``/opt/ml/input/config/hyperparameters.json`` and ``num_round`` is required;
channels ``train`` (required) and ``validation`` (optional) are read by the ``ContentType``
of ``inputdataconfig.json``: ``text/csv`` (label in column 0, no header) or
``text/libsvm``; the booster is saved as ``/opt/ml/model/xgboost-model``. Errors go to
``/opt/ml/output/failure``, as the container writes them.

Standalone on purpose (no sagepipe import, Python 3.8 syntax): it runs inside images
as old as XGBoost 1.7-1.
"""

import json
import os
import sys

OPT_ML = os.environ.get("SAGEPIPE_OPT_ML", "/opt/ml")
# Settings of the container itself, not of xgboost.train's params.
CONTAINER_KEYS = (
    "num_round",
    "early_stopping_rounds",
    "save_model_on_termination",
    "_kfold",
    "_num_cv_round",
    "_tuning_objective_metric",
    "csv_weights",
)


class AlgorithmError(Exception):
    """A user error the job reports in one line."""


def _channel_files(name):
    folder = os.path.join(OPT_ML, "input", "data", name)
    if not os.path.isdir(folder):
        return []
    found = []
    for root, _dirs, files in os.walk(folder):
        for file_name in files:
            if not file_name.startswith("."):
                found.append(os.path.join(root, file_name))
    return sorted(found)


def _content_type(config, name):
    raw = str((config.get(name) or {}).get("ContentType") or "text/libsvm")
    kind = raw.split(";")[0].strip().lower()
    if kind in ("text/csv", "csv"):
        return "csv"
    if kind in ("text/libsvm", "libsvm", "text/x-libsvm"):
        return "libsvm"
    raise AlgorithmError(
        f"channel {name} has ContentType {raw!r}; the XGBoost algorithm reads text/csv or "
        "text/libsvm"
    )


def load_channel(name, config):
    """A DMatrix of the channel's files, or None when the channel is absent."""
    import numpy as np
    import xgboost as xgb

    files = _channel_files(name)
    if not files:
        return None
    if _content_type(config, name) == "csv":
        blocks = []
        for path in files:
            data = np.loadtxt(path, delimiter=",", ndmin=2)
            if data.size:
                blocks.append(data)
        if not blocks:
            raise AlgorithmError(f"channel {name} has no rows")
        data = np.vstack(blocks)
        return xgb.DMatrix(data[:, 1:], label=data[:, 0])
    if len(files) == 1:
        return xgb.DMatrix(files[0] + "?format=libsvm")
    joined = os.path.join(OPT_ML, "output", "intermediate", name + ".libsvm")
    os.makedirs(os.path.dirname(joined), exist_ok=True)
    with open(joined, "wb") as out:
        for path in files:
            with open(path, "rb") as part:
                out.write(part.read().rstrip(b"\n") + b"\n")
    return xgb.DMatrix(joined + "?format=libsvm")


def train():
    """Train the booster the hyperparameters describe and save it."""
    config_dir = os.path.join(OPT_ML, "input", "config")
    with open(os.path.join(config_dir, "hyperparameters.json")) as fh:
        hps = {k: str(v) for k, v in json.load(fh).items()}
    with open(os.path.join(config_dir, "inputdataconfig.json")) as fh:
        channels = json.load(fh)
    if "num_round" not in hps:
        raise AlgorithmError("hyperparameter num_round is required (e.g. num_round=100)")
    try:
        num_round = int(hps["num_round"])
    except ValueError:
        raise AlgorithmError(f"num_round {hps['num_round']!r} is not an integer") from None
    if "train" not in channels:
        raise AlgorithmError("the XGBoost algorithm needs a 'train' channel")
    dtrain = load_channel("train", channels)
    if dtrain is None:
        raise AlgorithmError("channel train is empty")
    dvalid = load_channel("validation", channels) if "validation" in channels else None
    import xgboost as xgb  # after the checks: a bad request fails without the import cost

    params = {
        k: v for k, v in hps.items() if k not in CONTAINER_KEYS and not k.startswith("sagemaker_")
    }
    if "eval_metric" in params:
        params["eval_metric"] = [m.strip() for m in params["eval_metric"].split(",") if m.strip()]
    evals = [(dtrain, "train")] + ([(dvalid, "validation")] if dvalid is not None else [])
    early = hps.get("early_stopping_rounds")
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=num_round,
        evals=evals,
        early_stopping_rounds=int(early) if early and dvalid is not None else None,
        verbose_eval=True,
    )
    model_dir = os.environ.get("SM_MODEL_DIR") or os.path.join(OPT_ML, "model")
    os.makedirs(model_dir, exist_ok=True)
    booster.save_model(os.path.join(model_dir, "xgboost-model"))
    print(f"saved xgboost-model after {booster.num_boosted_rounds()} rounds")


def main():
    try:
        train()
    except (AlgorithmError, ValueError) as exc:
        failure = os.path.join(OPT_ML, "output", "failure")
        os.makedirs(os.path.dirname(failure), exist_ok=True)
        with open(failure, "w") as fh:
            fh.write(f"{exc}\n")
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
