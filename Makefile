# The two commands a newcomer needs. Both install whatever is missing first.
#   make quickstart   train → package → deploy → predict, on real containers
#   make test         lint, type-check, unit and integration tests (Docker, then Podman)

VENV ?= .venv
PY   := $(VENV)/bin/python
DY   := $(VENV)/bin/dockyard

.PHONY: quickstart test install install-frameworks setup setup-test lint typecheck unit integration podman bench \
	bench-control-plane bench-serving bench-serving-floor bench-swarm bench-transform bench-ecs bench-lb-threads clean

$(VENV)/.installed: pyproject.toml scripts/bootstrap.sh
	bash scripts/bootstrap.sh $(VENV)
	touch $@

install: $(VENV)/.installed

# The XGBoost and PyTorch handler tests need those libraries (CPU builds) on the host; the
# quickstart does not, so only the test targets install them. Where torch's CPU wheel
# cannot be found, those tests are skipped and say why.
$(VENV)/.frameworks: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[dev,frameworks]' || \
	  echo "==> note: the frameworks extra (xgboost-cpu, torch CPU build) is not installable here" >&2
	touch $@

install-frameworks: $(VENV)/.frameworks

setup: install
	$(DY) setup

quickstart: setup
	DOCKYARD=$(DY) bash examples/iris/quickstart.sh

setup-test: install-frameworks
	$(DY) setup --podman --browser

lint: install
	$(PY) -m ruff check src tests bench examples
	$(PY) -m ruff format --check src tests bench examples

typecheck: install-frameworks
	$(PY) -m mypy src/dockyard

unit: install-frameworks
	$(PY) -m pytest -q tests/unit

# The SageMaker Python SDK 2.x lives in a venv of its own (it pins its own versions of
# libraries Dockyard also uses); an integration test drives Dockyard with it unchanged.
# Where it cannot be installed, that test is skipped and says why.
SDK_VENV := $(VENV)-sdk
$(SDK_VENV)/.installed:
	$(PY) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/python -m pip install -q 'sagemaker>=2.200,<3' || \
	  echo "==> note: the SageMaker Python SDK is not installable here" >&2
	touch $@

integration: setup-test $(SDK_VENV)/.installed
	DOCKYARD_SAGEMAKER_SDK_PYTHON=$(CURDIR)/$(SDK_VENV)/bin/python $(PY) -m pytest -q tests/integration

podman: setup-test
	DOCKYARD_TEST_ENGINE=podman $(PY) -m pytest -q -m podman tests/integration

test: lint typecheck unit integration podman

bench: install
	$(PY) bench/foundation.py

bench-control-plane: setup
	$(PY) bench/control_plane.py

bench-serving: setup
	$(PY) -m bench.serving

# Dockyard's model server against the least an HTTP server can do around predict (host, wrk)
bench-serving-floor: install-frameworks
	$(PY) -m bench.serving.http_floor

bench-swarm: setup
	cd bench && PYTHONPATH=$(CURDIR)/src:. $(CURDIR)/$(PY) swarm.py

.PHONY: bench-multi-model
bench-multi-model: setup
	$(PY) bench/multi_model.py

bench-transform: setup
	$(PY) bench/transform.py

bench-ecs: setup
	PYTHONPATH=$(CURDIR)/src $(PY) bench/ecs.py

# needs a running endpoint (the quickstart's iris), wrk and haproxy
bench-lb-threads: setup
	$(PY) bench/lb_threads.py

clean:
	rm -rf $(VENV) $(SDK_VENV) .pytest_cache .mypy_cache .ruff_cache
