"""AWS-seed-code style evaluation on the XGBoost image: loads xgboost-model, writes JSON."""

import json
import os
import tarfile

import numpy as np
import pandas as pd
import xgboost

if __name__ == "__main__":
    with tarfile.open("/opt/ml/processing/model/model.tar.gz") as tar:
        tar.extractall(path=".")
    model = xgboost.Booster()
    model.load_model("xgboost-model")
    test = pd.read_csv("/opt/ml/processing/test/test.csv", header=None)
    labels = test.iloc[:, 0].to_numpy()
    predictions = model.predict(xgboost.DMatrix(test.iloc[:, 1:].values))
    accuracy = float(np.mean((predictions > 0.5) == (labels > 0.5)))
    report = {
        "binary_classification_metrics": {"accuracy": {"value": accuracy}},
        "xgboost_version": xgboost.__version__,
    }
    os.makedirs("/opt/ml/processing/evaluation", exist_ok=True)
    with open("/opt/ml/processing/evaluation/evaluation.json", "w") as fh:
        json.dump(report, fh)
