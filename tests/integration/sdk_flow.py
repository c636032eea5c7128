"""The SageMaker Python SDK's script-mode flow against Dockyard: run by
``test_sagemaker_sdk.py`` in the Python that has the SDK installed (``sagemaker`` 2.x
pulls in pandas, numpy and more, so it may live in a virtual environment of its own).

Every client the SDK makes points at Dockyard through ``AWS_ENDPOINT_URL`` (set by the
caller, with the access key): ``SKLearn(...).fit()`` tars ``source_dir`` into
``sourcedir.tar.gz`` and uploads it and the data with Dockyard's S3, CreateTrainingJob
names AWS's scikit-learn image (``framework_version``), which runs as Dockyard's
scikit-learn image, while ``fit()`` prints the job's output
(read with CloudWatch Logs' calls), ``deploy()`` creates the model, config and
endpoint and waits for it, ``predict()`` sends an .npy array through InvokeEndpoint.
Prints one JSON line: the steps that finished and the predictions.

Usage: python sdk_flow.py SOURCE_DIR DATA_DIR BUCKET NAME
"""

from __future__ import annotations

import json
import sys

import numpy as np
import sagemaker
from sagemaker.sklearn import SKLearn

ROLE = "arn:aws:iam::000000000000:role/dockyard"


def main() -> None:
    source_dir, data_dir, bucket, name = sys.argv[1:5]
    steps: list[str] = []
    result: dict[str, object] = {"steps": steps}
    try:
        # region, key and endpoint from the environment; the default bucket from the
        # SDK's config file (its own way of naming it without asking STS for the account)
        session = sagemaker.Session()
        steps.append("session")
        made = session.default_bucket()  # made on first use, as on AWS
        assert made == bucket, f"the default bucket is {made}, not the config file's {bucket}"
        steps.append("default_bucket")
        train = session.upload_data(data_dir, key_prefix=f"{name}/data")
        steps.append("upload_data")
        estimator = SKLearn(
            entry_point="train.py",
            source_dir=source_dir,
            framework_version="1.2-1",  # AWS's image; Dockyard's sklearn image stands in
            py_version="py3",
            role=ROLE,
            instance_type="ml.m5.large",
            instance_count=1,
            hyperparameters={"C": 1.0, "max-iter": 200},
            sagemaker_session=session,
            base_job_name=name,
        )
        estimator.fit({"train": train})  # streams the job's log from CloudWatch Logs
        steps.append("fit")
        result["model_data"] = estimator.model_data
        predictor = estimator.deploy(
            initial_instance_count=1, instance_type="ml.m5.large", endpoint_name=name
        )
        steps.append("deploy")
        rows = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])
        result["predictions"] = np.asarray(predictor.predict(rows)).tolist()
        steps.append("predict")
        predictor.delete_endpoint()
        steps.append("delete_endpoint")
    except Exception as exc:  # reported, not raised: the caller says which step failed
        result["error"] = f"{type(exc).__name__}: {exc}"
    print("\nRESULT " + json.dumps(result))  # the SDK's waiters print dots on stdout


if __name__ == "__main__":
    main()
