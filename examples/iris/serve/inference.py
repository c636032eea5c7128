"""Inference handlers for the iris endpoint (the SageMaker handler chain).

The framework image loads ``model.joblib`` by itself; this module only changes how
predictions are written: each row's class name instead of its index. Functions left
out (``model_fn``, ``input_fn``, ``predict_fn``) keep their defaults.
"""

import json

import numpy as np

SPECIES = ("setosa", "versicolor", "virginica")


def output_fn(prediction, accept):
    names = [SPECIES[int(index)] for index in np.asarray(prediction).ravel()]
    if accept == "text/csv":
        return "\n".join(names) + "\n"
    return json.dumps({"predictions": names})
