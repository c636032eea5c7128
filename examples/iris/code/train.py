"""Train a scikit-learn classifier on iris, the SageMaker script-mode way.

The training container runs this file with each hyperparameter as ``--name value``
and tells it where things are through SM_* variables: the data channel in
SM_CHANNEL_TRAIN (CSV, label in the first column, no header) and the directory whose
contents become ``model.tar.gz`` in SM_MODEL_DIR. The same script runs unchanged
under SageMaker.

The accuracy lines it prints are the job's metrics: the quickstart's MetricDefinitions
(``--metric NAME=REGEX``) read them from the output, as SageMaker does.
"""

import argparse
import os
from pathlib import Path

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score, train_test_split


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-C", "--C", type=float, default=1.0)  # one letter: passed as -C
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    args = parser.parse_args()

    frames = [np.loadtxt(path, delimiter=",") for path in sorted(Path(args.train).glob("*.csv"))]
    data = np.vstack(frames)
    labels, features = data[:, 0].astype(int), data[:, 1:]
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=0.2, random_state=0, stratify=labels
    )
    model = LogisticRegression(C=args.C, max_iter=args.max_iter)
    for fold, score in enumerate(cross_val_score(model, x_train, y_train, cv=5), start=1):
        print(f"fold {fold} validation accuracy: {score:.3f}")
    model.fit(x_train, y_train)
    print(f"train rows: {len(x_train)}  test accuracy: {model.score(x_test, y_test):.3f}")
    joblib.dump(model, Path(args.model_dir) / "model.joblib")


if __name__ == "__main__":
    main()
