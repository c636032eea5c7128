"""Train an XGBoost classifier on the breast-cancer data, the SageMaker script-mode way.

The XGBoost framework image runs this file with each hyperparameter as ``--name value``;
the channels are in SM_CHANNEL_TRAIN and SM_CHANNEL_VALIDATION (CSV, label in the first
column, no header, the layout the AWS XGBoost container reads) and whatever lands in
SM_MODEL_DIR becomes ``model.tar.gz``.

The booster is saved as ``xgboost-model``, the file the XGBoost image's default
``model_fn`` loads (as the AWS container does), so the model serves with no inference
code: CSV, LIBSVM or JSON rows in, the probability of "benign" out.
"""

import argparse
import os
from pathlib import Path

import numpy as np
import xgboost as xgb


def load(channel: str) -> xgb.DMatrix:
    frames = [np.loadtxt(path, delimiter=",") for path in sorted(Path(channel).glob("*.csv"))]
    data = np.vstack(frames)
    return xgb.DMatrix(data[:, 1:], label=data[:, 0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--num-round", type=int, default=50)
    parser.add_argument("--max-depth", type=int, default=3)
    parser.add_argument("--eta", type=float, default=0.3)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    parser.add_argument("--validation", default=os.environ.get("SM_CHANNEL_VALIDATION"))
    args = parser.parse_args()

    train = load(args.train)
    watch = [(train, "train")]
    if args.validation:
        watch.append((load(args.validation), "validation"))
    params = {
        "objective": "binary:logistic",
        "eval_metric": ["logloss", "error"],
        "max_depth": args.max_depth,
        "eta": args.eta,
    }
    # each round prints e.g. "[49]  train-logloss:0.01  validation-error:0.035"
    booster = xgb.train(params, train, num_boost_round=args.num_round, evals=watch)
    Path(args.model_dir, "xgboost-model").write_bytes(booster.save_raw(raw_format="ubj"))


if __name__ == "__main__":
    main()
