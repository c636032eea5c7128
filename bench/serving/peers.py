"""The peers: what each installs, the app it serves the model with, how it starts.

Every peer serves the same ``model.joblib`` (one row in, class index out) with
**2 worker processes** and **no per-request access log**, in its own request format.
Each app is written here from the peer's documented usage; nothing of the peers'
own code is copied. A peer's command is a template: ``{python}`` (the environment's
interpreter), ``{app}`` (the directory with the app files and ``model.joblib``),
``{host}``, ``{port}`` and ``{sock}`` (a unix socket path, for nginx → gunicorn).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .load import Request
from .model import ROW

WORKERS = 2
ROW_JSON = json.dumps([list(ROW)])

FASTAPI_APP = """\
from pathlib import Path

import joblib
import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel

model = joblib.load(Path(__file__).with_name("model.joblib"))
app = FastAPI()


class Instances(BaseModel):
    instances: list[list[float]]


@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/predict")
async def predict(body: Instances) -> dict[str, list[int]]:
    return {"predictions": model.predict(np.asarray(body.instances)).tolist()}
"""

# The SageMaker scikit-learn container's shape: a Flask app with /ping and /invocations
# (JSON or CSV in, JSON out), gunicorn with gevent workers on a unix socket, nginx in
# front on the public port.
FLASK_APP = """\
import io
import json
from pathlib import Path

import flask
import joblib
import numpy as np

model = joblib.load(Path(__file__).with_name("model.joblib"))
app = flask.Flask(__name__)


@app.route("/ping", methods=["GET"])
def ping():
    return flask.Response(response="\\n", status=200, mimetype="application/json")


@app.route("/invocations", methods=["POST"])
def invocations():
    kind = flask.request.content_type or ""
    if kind.startswith("application/json"):
        rows = np.asarray(json.loads(flask.request.data), dtype=float)
    elif kind.startswith("text/csv"):
        rows = np.loadtxt(io.StringIO(flask.request.data.decode()), delimiter=",", ndmin=2)
    else:
        return flask.Response(response="unsupported content type", status=415)
    result = model.predict(rows)
    return flask.Response(response=json.dumps(result.tolist()), status=200,
                          mimetype="application/json")
"""

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {app}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 2048; }}
http {{
  access_log off;
  client_body_temp_path {app}/nginx-tmp/body;
  proxy_temp_path {app}/nginx-tmp/proxy;
  fastcgi_temp_path {app}/nginx-tmp/fastcgi;
  uwsgi_temp_path {app}/nginx-tmp/uwsgi;
  scgi_temp_path {app}/nginx-tmp/scgi;
  upstream gunicorn {{ server unix:{sock}; }}
  server {{
    listen {host}:{port} deferred;
    client_max_body_size 6m;
    keepalive_timeout 5;
    location ~ ^/(ping|invocations) {{
      proxy_set_header Host $http_host;
      proxy_redirect off;
      proxy_read_timeout 60s;
      proxy_pass http://gunicorn;
    }}
    location / {{ return 404 "{{}}"; }}
  }}
}}
"""

BENTO_SERVICE = """\
from pathlib import Path

import bentoml
import joblib
import numpy as np


@bentoml.service(workers=2, logging={"access": {"enabled": False}})
class Iris:
    def __init__(self) -> None:
        self.model = joblib.load(Path(__file__).with_name("model.joblib"))

    @bentoml.api
    def predict(self, instances: list[list[float]]) -> list[int]:
        return self.model.predict(np.asarray(instances)).tolist()
"""

MLSERVER_MODEL_SETTINGS = {
    "name": "iris",
    "implementation": "mlserver_sklearn.SKLearnModel",
    "parameters": {"uri": "./model.joblib", "version": "v1"},
}

# Turns model.joblib into an MLflow model directory (sklearn flavour), in the peer's venv.
MLFLOW_SAVE = """\
import shutil
import sys
from pathlib import Path

import joblib
import mlflow.sklearn

app = Path(sys.argv[1])
target = app / "mlflow_model"
shutil.rmtree(target, ignore_errors=True)
mlflow.sklearn.save_model(joblib.load(app / "model.joblib"), str(target))
"""


@dataclass(frozen=True)
class Peer:
    """One server the benchmark compares Dockyard with."""

    name: str
    title: str
    requirements: tuple[str, ...]
    request: Request
    ping: str
    command: tuple[str, ...]
    process_model: str
    files: dict[str, str] = field(default_factory=dict)
    #: run once in the venv after the files are written: ``{python} prepare.py {app}``
    prepare: str | None = None
    #: the main package, whose version names the peer in the results
    package: str = ""
    #: environment for the server (host and container)
    env: dict[str, str] = field(default_factory=dict)

    def render(self, python: str, app: Path | str, host: str, port: int, sock: str) -> list[str]:
        return [
            part.format(python=python, app=app, host=host, port=port, sock=sock)
            for part in self.command
        ]


SKLEARN_PINS = ("scikit-learn==1.9.1", "joblib==1.6.0", "numpy==2.4.6", "scipy==1.17.1")

FASTAPI = Peer(
    name="fastapi",
    title="FastAPI + uvicorn",
    package="fastapi",
    requirements=("fastapi", "uvicorn[standard]", *SKLEARN_PINS),
    request=Request("/predict", "application/json", json.dumps({"instances": [list(ROW)]})),
    ping="/ping",
    command=(
        "{python}",
        "-m",
        "uvicorn",
        "app:app",
        "--app-dir",
        "{app}",
        "--host",
        "{host}",
        "--port",
        "{port}",
        "--workers",
        str(WORKERS),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ),
    process_model="uvicorn supervisor + 2 worker processes (uvloop, httptools), async handler",
    files={"app.py": FASTAPI_APP},
)

FLASK = Peer(
    name="flask",
    title="Flask + gunicorn (SageMaker sklearn style)",
    package="flask",
    requirements=("flask", "gunicorn", "gevent", "packaging", *SKLEARN_PINS),
    request=Request("/invocations", "application/json", ROW_JSON),
    ping="/ping",
    # With nginx: gunicorn on {sock}, nginx on the port (see flask_commands).
    command=(
        "{python}",
        "-m",
        "gunicorn",
        "--chdir",
        "{app}",
        "-k",
        "gevent",
        "--worker-connections",
        "1000",
        "-w",
        str(WORKERS),
        "--timeout",
        "60",
        "--log-level",
        "warning",
        "-b",
        "{sock}",
        "app:app",
    ),
    process_model="nginx (1 worker) → gunicorn master + 2 gevent workers on a unix socket",
    files={"app.py": FLASK_APP, "nginx.conf.in": NGINX_CONF},
)

MLSERVER = Peer(
    name="mlserver",
    title="MLServer (mlserver-sklearn)",
    package="mlserver",
    requirements=("mlserver", "mlserver-sklearn", "uvloop<0.22", *SKLEARN_PINS),
    request=Request(
        "/v2/models/iris/infer",
        "application/json",
        json.dumps(
            {
                "inputs": [
                    {
                        "name": "predict",
                        "shape": [1, len(ROW)],
                        "datatype": "FP64",
                        "data": [list(ROW)],
                    }
                ]
            }
        ),
    ),
    ping="/v2/health/ready",
    command=("{python}", "-m", "mlserver.cli.main", "start", "{app}"),
    process_model="main process (HTTP, uvloop) + parallel_workers=2 inference processes",
    files={"model-settings.json": json.dumps(MLSERVER_MODEL_SETTINGS, indent=2)},
)

BENTOML = Peer(
    name="bentoml",
    title="BentoML",
    package="bentoml",
    requirements=("bentoml", *SKLEARN_PINS),
    request=Request("/predict", "application/json", json.dumps({"instances": [list(ROW)]})),
    ping="/readyz",
    command=(
        "{python}",
        "-m",
        "bentoml",
        "serve",
        "service:Iris",
        "--working-dir",
        "{app}",
        "--host",
        "{host}",
        "--port",
        "{port}",
    ),
    process_model="bentoml supervisor + 2 service workers (@bentoml.service(workers=2))",
    files={"service.py": BENTO_SERVICE},
)

MLFLOW = Peer(
    name="mlflow",
    title="MLflow model server",
    package="mlflow",
    requirements=("mlflow", *SKLEARN_PINS),
    request=Request("/invocations", "application/json", json.dumps({"inputs": [list(ROW)]})),
    ping="/ping",
    command=(
        "{python}",
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        "{app}/mlflow_model",
        "-h",
        "{host}",
        "-p",
        "{port}",
        "-w",
        str(WORKERS),
        "--env-manager",
        "local",
    ),
    process_model="mlflow CLI → uvicorn supervisor + 2 workers (scoring server; asyncio, h11)",
    files={"prepare.py": MLFLOW_SAVE},
    # mlflow starts `uvicorn` itself, without --no-access-log; uvicorn reads it from here
    env={"UVICORN_ACCESS_LOG": "false"},
    prepare="prepare.py",
)

PEERS: dict[str, Peer] = {p.name: p for p in (FASTAPI, FLASK, MLSERVER, BENTOML, MLFLOW)}


def mlserver_settings(host: str, port: int, grpc_port: int) -> str:
    return json.dumps(
        {
            "host": host,
            "http_port": port,
            "grpc_port": grpc_port,
            "parallel_workers": WORKERS,
            "metrics_endpoint": None,
            "debug": False,
        },
        indent=2,
    )


def write_app(peer: Peer, app: Path, model_file: Path) -> None:
    """The peer's app directory: its files and a copy of ``model.joblib``."""
    app.mkdir(parents=True, exist_ok=True)
    for name, text in peer.files.items():
        (app / name).write_text(text)
    shutil.copyfile(model_file, app / "model.joblib")
