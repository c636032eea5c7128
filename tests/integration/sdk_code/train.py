"""An SKLearn entry point as the SageMaker SDK's examples write one: trained when run
as a script (hyperparameters as ``--name value``, data in SM_CHANNEL_TRAIN), and
``model_fn`` for the serving container to load what it saved."""

import argparse
import os
from pathlib import Path

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression


def model_fn(model_dir: str) -> LogisticRegression:
    return joblib.load(Path(model_dir) / "model.joblib")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("-C", "--C", type=float, default=1.0)  # one letter: passed as -C
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    args = parser.parse_args()
    data = np.vstack([np.loadtxt(p, delimiter=",") for p in sorted(Path(args.train).glob("*.csv"))])
    model = LogisticRegression(C=args.C, max_iter=args.max_iter)
    model.fit(data[:, 1:], data[:, 0].astype(int))
    print(f"train accuracy: {model.score(data[:, 1:], data[:, 0].astype(int)):.3f}")
    joblib.dump(model, Path(args.model_dir) / "model.joblib")
