"""AWS-seed-code style preprocessing: hard-coded /opt/ml paths and a boto3 download."""

import os
import random
from urllib.parse import urlparse

import boto3
import numpy as np
import pandas as pd

BASE = "/opt/ml/processing"

if __name__ == "__main__":
    # Like the SageMaker examples: the script fetches its raw data itself with boto3.
    url = urlparse(os.environ["RAW_DATA_URI"])
    os.makedirs(f"{BASE}/data", exist_ok=True)
    boto3.resource("s3").Bucket(url.netloc).download_file(
        url.path.lstrip("/"), f"{BASE}/data/raw.csv"
    )
    frame = pd.read_csv(f"{BASE}/data/raw.csv")
    extra = pd.read_csv(f"{BASE}/input/extra/extra.csv")
    frame = pd.concat([frame, extra], ignore_index=True)
    # Label first, no header: what the XGBoost algorithm reads.
    frame = frame[["label", "x1", "x2"]]
    random.seed(0)
    order = np.random.RandomState(0).permutation(len(frame))
    frame = frame.iloc[order]
    cut1, cut2 = int(0.7 * len(frame)), int(0.85 * len(frame))
    for name, part in (
        ("train", frame[:cut1]),
        ("validation", frame[cut1:cut2]),
        ("test", frame[cut2:]),
    ):
        os.makedirs(f"{BASE}/{name}", exist_ok=True)
        part.to_csv(f"{BASE}/{name}/{name}.csv", header=False, index=False)
    # Features only, for the batch transform.
    os.makedirs(f"{BASE}/batch", exist_ok=True)
    frame[cut2:][["x1", "x2"]].to_csv(f"{BASE}/batch/batch.csv", header=False, index=False)
    print("rows", len(frame))
