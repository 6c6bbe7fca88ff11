"""The XGBoost image's default inference handler, served over stdin/stdout to a parent.

Runs in the image's runtime (Python 3.8 syntax, no sagepipe import). Each request is a
JSON header line ``{"content_type", "accept", "length"}`` followed by ``length`` body bytes;
each answer is a header line ``{"status", "content_type", "length", "error"}`` and the body.
Like the container's default handler: ``text/csv`` (no label column) or ``text/libsvm``
records in, one prediction per record out (``text/csv``: one per line; ``application/json``:
``{"predictions": [{"score": p}]}``).
"""

import json
import os
import sys
import tempfile


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
    raise ValueError(
        f"content type {content_type!r}: the XGBoost handler reads text/csv or text/libsvm"
    )


def _encode(predictions, accept):
    kind = (accept or "text/csv").split(",")[0].split(";")[0].strip().lower()
    values = [float(p) if not hasattr(p, "__len__") else [float(x) for x in p] for p in predictions]
    if kind in ("application/json", "application/jsonlines"):
        return json.dumps({"predictions": [{"score": v} for v in values]}).encode(), kind
    lines = [",".join(str(x) for x in v) if isinstance(v, list) else str(v) for v in values]
    return ("\n".join(lines) + "\n").encode(), "text/csv"


def main():
    booster = _load(sys.argv[1])
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    stdout.write(b'{"status": "ready"}\n')
    stdout.flush()
    while True:
        line = stdin.readline()
        if not line:
            return 0
        header = json.loads(line)
        body = stdin.read(int(header["length"]))
        try:
            data, kind = _encode(
                booster.predict(_matrix(body, header["content_type"])), header.get("accept")
            )
            answer = {"status": 200, "content_type": kind, "length": len(data)}
        except Exception as exc:  # the parent reports it with the file and record
            data, answer = (
                b"",
                {"status": 400, "error": f"{type(exc).__name__}: {exc}", "length": 0},
            )
        stdout.write(json.dumps(answer).encode() + b"\n" + data)
        stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
