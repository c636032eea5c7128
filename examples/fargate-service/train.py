"""Train the example's iris classifier into MODEL_DIR/model.joblib (run at image build).

The iris data ships with scikit-learn, so the build needs no network.
"""

import sys
from pathlib import Path

import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

model_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "model")
model_dir.mkdir(parents=True, exist_ok=True)
features, labels = load_iris(return_X_y=True)
train_x, test_x, train_y, test_y = train_test_split(features, labels, random_state=0)
model = LogisticRegression(max_iter=500).fit(train_x, train_y)
print(f"test accuracy: {model.score(test_x, test_y):.3f}")
joblib.dump(model, model_dir / "model.joblib")
