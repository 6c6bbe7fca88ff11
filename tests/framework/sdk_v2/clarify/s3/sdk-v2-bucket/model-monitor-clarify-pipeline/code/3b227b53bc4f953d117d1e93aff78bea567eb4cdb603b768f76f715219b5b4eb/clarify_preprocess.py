"""Preprocessing for the Clarify example: label first, no header, facet in column 8.

Reads ``RAW_DATA_URI`` (a CSV with a header: ``rings`` then eight numeric features, the
last one 0/1 like the example's one-hot ``sex`` column) and writes headerless train,
validation and test splits, as the example's preprocessing does.
"""

import os
from urllib.parse import urlparse

import boto3
import numpy as np
import pandas as pd

BASE = "/opt/ml/processing"

if __name__ == "__main__":
    url = urlparse(os.environ["RAW_DATA_URI"])
    os.makedirs(f"{BASE}/data", exist_ok=True)
    boto3.resource("s3").Bucket(url.netloc).download_file(
        url.path.lstrip("/"), f"{BASE}/data/raw.csv"
    )
    frame = pd.read_csv(f"{BASE}/data/raw.csv")
    frame = frame.iloc[np.random.RandomState(0).permutation(len(frame))]
    cut1, cut2 = int(0.7 * len(frame)), int(0.85 * len(frame))
    for name, part in (("train", frame[:cut1]), ("validation", frame[cut1:cut2]), ("test", frame[cut2:])):
        os.makedirs(f"{BASE}/{name}", exist_ok=True)
        part.to_csv(f"{BASE}/{name}/{name}.csv", header=False, index=False)
