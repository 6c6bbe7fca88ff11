"""Script-mode training for the scikit-learn image, as AWS's SKLearn examples write it."""

import argparse
import os

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    # The toolkit passes a one-letter hyperparameter as "-C 0.5" (to_cmd_args), not "--C".
    parser.add_argument("-C", type=float, default=1.0)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    args = parser.parse_args()

    # Label in column 0, no header (the layout the built-in algorithms read too).
    files = [os.path.join(args.train, name) for name in sorted(os.listdir(args.train))]
    data = np.vstack([np.loadtxt(path, delimiter=",", ndmin=2) for path in files])
    model = LogisticRegression(C=args.C).fit(data[:, 1:], data[:, 0].astype(int))
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
    print("trained on", len(data), "rows")
