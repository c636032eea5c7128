# The two commands a newcomer needs. Both install whatever is missing first.
#   make quickstart   train → package → deploy → predict, on real containers
#   make test         lint, type-check, unit and integration tests (Docker, then Podman)

VENV ?= .venv
PY   := $(VENV)/bin/python
DY   := $(VENV)/bin/dockyard

.PHONY: quickstart test install setup setup-test lint typecheck unit integration podman bench \
	bench-control-plane bench-serving bench-swarm bench-ecs clean

$(VENV)/.installed: pyproject.toml scripts/bootstrap.sh
	bash scripts/bootstrap.sh $(VENV)
	touch $@

install: $(VENV)/.installed

setup: install
	$(DY) setup

quickstart: setup
	DOCKYARD=$(DY) bash examples/iris/quickstart.sh

setup-test: install
	$(DY) setup --podman --browser

lint: install
	$(PY) -m ruff check src tests bench examples
	$(PY) -m ruff format --check src tests bench examples

typecheck: install
	$(PY) -m mypy src/dockyard

unit: install
	$(PY) -m pytest -q tests/unit

integration: setup-test
	$(PY) -m pytest -q tests/integration

podman: setup-test
	DOCKYARD_TEST_ENGINE=podman $(PY) -m pytest -q -m podman tests/integration

test: lint typecheck unit integration podman

bench: install
	$(PY) bench/foundation.py

bench-control-plane: setup
	$(PY) bench/control_plane.py

bench-serving: setup
	$(PY) -m bench.serving

bench-swarm: setup
	cd bench && PYTHONPATH=$(CURDIR)/src:. $(CURDIR)/$(PY) swarm.py

bench-ecs: setup
	PYTHONPATH=$(CURDIR)/src $(PY) bench/ecs.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
