"""Script-mode training for the XGBoost image, as AWS's XGBoost framework examples write it.

It reads the toolkit's contract (hyperparameters as arguments, ``SM_CHANNEL_*``,
``SM_MODEL_DIR``) and imports ``appdirs``, which only this source directory's
``requirements.txt`` installs, and reports what it saw next to the model.
"""

import argparse
import json
import os
import sys

import appdirs
import numpy as np
import xgboost as xgb

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--num_round", type=int, default=10)
    parser.add_argument("--max_depth", type=int, default=3)
    parser.add_argument("--eta", type=float, default=0.3)
    parser.add_argument("--objective", default="binary:logistic")
    parser.add_argument("--model_dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    parser.add_argument("--validation", default=os.environ.get("SM_CHANNEL_VALIDATION"))
    args, unknown = parser.parse_known_args()

    def load(folder):
        files = [os.path.join(folder, name) for name in sorted(os.listdir(folder))]
        data = np.vstack([np.loadtxt(path, delimiter=",", ndmin=2) for path in files])
        return xgb.DMatrix(data[:, 1:], label=data[:, 0])

    train, validation = load(args.train), load(args.validation)
    params = {"max_depth": args.max_depth, "eta": args.eta, "objective": args.objective}
    booster = xgb.train(params, train, args.num_round, evals=[(validation, "validation")])
    booster.save_model(os.path.join(args.model_dir, "xgboost-model"))
    report = {
        "argv": sys.argv[1:],
        "unknown": unknown,
        "main_module": __spec__.name if __spec__ else None,
        "python": ".".join(str(part) for part in sys.version_info[:3]),
        "xgboost": xgb.__version__,
        "appdirs": appdirs.__version__,
        "rounds": booster.num_boosted_rounds(),
        "env": {k: os.environ[k] for k in sorted(os.environ) if k.startswith("SM_")},
    }
    with open(os.path.join(args.model_dir, "report.json"), "w") as out:
        json.dump(report, out, indent=1, sort_keys=True)
    print("trained", booster.num_boosted_rounds(), "rounds")
