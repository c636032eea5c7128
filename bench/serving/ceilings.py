"""Ceilings: the model's one-row ``predict`` in process (no HTTP), calls per second.

The HTTP ceilings are servers like the others (see :mod:`const_server`): a constant
answered on the host, through a published port, and through the same HAProxy as the
endpoint.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PREDICT = """
import json, sys, time
import joblib, numpy as np
model = joblib.load(sys.argv[1])
row = np.asarray([[5.1, 3.5, 1.4, 0.2]])
seconds = float(sys.argv[2])
for _ in range(200):
    model.predict(row)
calls, began = 0, time.perf_counter()
while time.perf_counter() - began < seconds:
    for _ in range(100):
        model.predict(row)
    calls += 100
elapsed = time.perf_counter() - began
print(json.dumps({"calls_per_s": round(calls / elapsed, 1), "calls": calls,
                  "us_per_call": round(elapsed / calls * 1e6, 1)}))
"""


def predict_rate(model_file: Path, seconds: float) -> dict[str, float]:
    """One-row ``predict`` calls/s in one process (this interpreter: the same scikit-learn)."""
    done = subprocess.run(
        [sys.executable, "-c", PREDICT, str(model_file), str(seconds)],
        capture_output=True,
        text=True,
        check=True,
        env={"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
