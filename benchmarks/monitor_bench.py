"""Benchmark ``monitor`` over captured traffic: time and peak memory vs plain pandas.

Usage (run on its own, it is not part of ``nox -s bench``)::

    python benchmarks/monitor_bench.py [--records 100000 1000000] [--workdir DIR]

For each record count it writes that many capture lines (one CSV row per request, the
endpoint's real format), then times two child processes: sagepipe's streaming monitoring
job (``sagepipe.monitor.job.monitor``: all checks, drift, ``statistics.json``) and a plain
pandas script that computes the same per-feature statistics (counts, missing values,
mean, std, min, max, histogram on the baseline's edges, category counts) by loading every
line into DataFrames. Wall time includes interpreter start-up; peak memory is the largest
PSS of the child's process tree (see ``measure.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from measure import run_timed

TEMPLATE = Path(__file__).resolve().parents[1]
SRC = TEMPLATE / "{{cookiecutter.project_slug}}" / "src"
FEATURES = ["age", "tenure", "charges", "calls", "contract", "payment"]

PANDAS_SCRIPT = r"""
import io, json, sys
import numpy as np, pandas as pd
capture, stats_path, names = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
baseline = json.load(open(stats_path))
rows = pd.read_json(capture, lines=True)["captureData"].map(lambda c: c["endpointInput"]["data"])
frame = pd.read_csv(io.StringIO("".join(rows)), header=None, names=names)
out = {}
for f in baseline["features"]:
    col = frame[f["name"]]
    if "numerical_statistics" in f:
        buckets = f["numerical_statistics"]["distribution"]["kll"]["buckets"]
        edges = [b["lower_bound"] for b in buckets]
        values = col.dropna().to_numpy(dtype=float)
        out[f["name"]] = dict(present=int(col.notna().sum()), missing=int(col.isna().sum()),
            mean=float(values.mean()), std=float(values.std()), min=float(values.min()),
            max=float(values.max()), hist=np.histogram(values, bins=edges + [np.inf])[0].tolist())
    else:
        out[f["name"]] = dict(present=int(col.notna().sum()), missing=int(col.isna().sum()),
            counts=col.value_counts().to_dict())
print(json.dumps(out)[:200])
"""

MONITOR_SCRIPT = r"""
import sys
from pathlib import Path
from sagepipe.monitor.job import monitor
root, stats, constraints, out = map(Path, sys.argv[1:5])
result = monitor(root, stats, constraints, out)
print(result.events, result.rows, len(result.violations))
"""


def write_inputs(folder: Path, records: int) -> tuple[Path, Path]:
    """A baseline (from 100,000 rows) and ``records`` capture lines of the same data."""
    sys.path.insert(0, str(SRC))
    import numpy as np
    import pandas as pd

    from sagepipe.monitor.baseline import baseline

    def table(rows: int, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        frame = pd.DataFrame(
            {
                "age": rng.integers(18, 86, rows).astype(float),
                "tenure": rng.integers(0, 73, rows),
                "charges": np.round(rng.normal(60, 15, rows), 2),
                "calls": rng.poisson(1.5, rows),
                "contract": rng.choice(["monthly", "one-year", "two-year"], rows),
                "payment": rng.choice(["check", "card", "bank"], rows),
            }
        )
        frame.loc[rng.random(rows) < 0.01, "age"] = np.nan
        return frame

    table(100_000, 1).to_csv(folder / "train.csv", index=False)
    baseline(folder / "train.csv", folder / "baseline")
    capture = folder / "capture" / "ep" / "AllTraffic" / "2026" / "01" / "01" / "00"
    capture.mkdir(parents=True, exist_ok=True)
    path = capture / "capture.jsonl"
    with path.open("w") as stream:
        done = 0
        while done < records:
            chunk = table(min(200_000, records - done), 2 + done)
            lines = chunk.to_csv(header=False, index=False, lineterminator="\n").splitlines()
            for i, row in enumerate(lines):
                stream.write(
                    json.dumps(
                        {
                            "captureData": {
                                "endpointInput": {
                                    "observedContentType": "text/csv",
                                    "mode": "INPUT",
                                    "data": row + "\n",
                                    "encoding": "CSV",
                                },
                                "endpointOutput": {
                                    "observedContentType": "application/json",
                                    "mode": "OUTPUT",
                                    "data": '{"predictions":[{"label":0,"probability":0.2}]}',
                                    "encoding": "JSON",
                                },
                            },
                            "eventMetadata": {
                                "eventId": f"e{done + i}",
                                "inferenceTime": "2026-01-01T00:00:00.000Z",
                            },
                            "eventVersion": "0",
                        },
                        separators=(",", ":"),
                    )
                    + "\n"
                )
            done += len(chunk)
    return folder / "capture" / "ep" / "AllTraffic", path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
    print("| records | monitor s | monitor peak MB | pandas s | pandas peak MB | time ratio |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for records in args.records:
        with tempfile.TemporaryDirectory(dir=args.workdir) as scratch:
            folder = Path(scratch)
            root, capture = write_inputs(folder, records)
            stats = folder / "baseline" / "statistics.json"
            ours = run_timed(
                [
                    sys.executable,
                    "-c",
                    MONITOR_SCRIPT,
                    root,
                    stats,
                    folder / "baseline" / "constraints.json",
                    folder / "out",
                ],
                env=env,
                log=folder / "monitor.log",
            )
            plain = run_timed(
                [sys.executable, "-c", PANDAS_SCRIPT, capture, stats, ",".join(FEATURES)],
                env=env,
                log=folder / "pandas.log",
            )
            print(
                f"| {records:,} | {ours.seconds:.1f} | {ours.peak_rss_bytes / 1e6:.0f} | "
                f"{plain.seconds:.1f} | {plain.peak_rss_bytes / 1e6:.0f} | "
                f"{ours.seconds / plain.seconds:.2f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
