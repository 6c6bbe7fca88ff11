"""The XGBoost image's default inference handler, served over stdin/stdout to a parent.

Runs in the image's runtime (Python 3.8 syntax, no sagepipe import), speaking the framing
of the sibling ``child_protocol`` module. Like the container's default handler:
``text/csv`` (no label column) or ``text/libsvm`` records in, one prediction per record
out (``text/csv``: one per line; ``application/json``: ``{"predictions": [{"score": p}]}``).
"""

import json
import os
import sys
import tempfile

import child_protocol  # the sibling module: this script's folder is sys.path[0]


def _load(model_dir):
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(os.path.join(model_dir, "xgboost-model"))
    return booster


def _matrix(body, content_type):
    import numpy as np
    import xgboost as xgb

    kind = content_type.split(";")[0].strip().lower()
    if kind == "text/csv":
        text = body.decode("utf-8").strip()
        rows = [
            [float(v) if v.strip() else float("nan") for v in line.split(",")]
            for line in text.splitlines()
            if line.strip()
        ]
        return xgb.DMatrix(np.array(rows, dtype=float))
    if kind in ("text/libsvm", "text/x-libsvm"):
        with tempfile.NamedTemporaryFile("wb", suffix=".libsvm", delete=False) as fh:
            fh.write(body)
        try:
            return xgb.DMatrix(fh.name + "?format=libsvm")
        finally:
            os.unlink(fh.name)
    raise child_protocol.RequestError(
        415, f"content type {content_type!r}: the XGBoost handler reads text/csv or text/libsvm"
    )


def _encode(predictions, accept):
    kind = (accept or "text/csv").split(",")[0].split(";")[0].strip().lower()
    values = [float(p) if not hasattr(p, "__len__") else [float(x) for x in p] for p in predictions]
    if kind in ("application/json", "application/jsonlines"):
        return json.dumps({"predictions": [{"score": v} for v in values]}).encode(), kind
    lines = [",".join(str(x) for x in v) if isinstance(v, list) else str(v) for v in values]
    return ("\n".join(lines) + "\n").encode(), "text/csv"


def _predict(booster, body, content_type, accept):
    return _encode(booster.predict(_matrix(body, content_type)), accept)


def main():
    return child_protocol.serve(lambda: _load(sys.argv[1]), _predict)


if __name__ == "__main__":
    sys.exit(main())
