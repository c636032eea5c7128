"""The one model every server serves: iris, LogisticRegression, trained once.

Trained on the host with the project's scikit-learn (the version the framework image
pins), from the quickstart's own data, the way ``examples/iris/code/train.py`` trains
(same split and estimator). Every peer's virtual environment pins the same
scikit-learn, so the same ``model.joblib`` loads everywhere.
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "examples" / "iris" / "data" / "train" / "iris.csv"
#: The one row every request carries.
ROW = (5.1, 3.5, 1.4, 0.2)


@dataclass(frozen=True)
class Model:
    """``model.joblib``, the directory holding it, and ``model.tar.gz`` of it."""

    directory: Path
    joblib_path: Path
    tarball: Path
    sklearn_version: str


def train(work: Path) -> Model:
    """Train and write the model under ``work`` (overwritten each run: it is cheap)."""
    data = np.loadtxt(DATA, delimiter=",")
    labels, features = data[:, 0].astype(int), data[:, 1:]
    x_train, _, y_train, _ = train_test_split(
        features, labels, test_size=0.2, random_state=0, stratify=labels
    )
    model = LogisticRegression(C=1.0, max_iter=200).fit(x_train, y_train)
    directory = work / "model"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "model.joblib"
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    path.write_bytes(buffer.getvalue())
    tarball = work / "model.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        info = tarfile.TarInfo("model.joblib")
        info.size = len(buffer.getvalue())
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(buffer.getvalue()))
    return Model(directory, path, tarball, sklearn.__version__)
