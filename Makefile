# The README's two commands: `make serve` and `make test`.
VENV ?= .venv
HOST ?= 0.0.0.0
PORT ?= 8000

.PHONY: install install-dev serve test test-fast lint bench soak fuzz container-test

install:
	bash scripts/install.sh

install-dev:
	bash scripts/install.sh --dev

serve: install
	$(VENV)/bin/gan-serve --host $(HOST) --port $(PORT)

test: install-dev
	$(VENV)/bin/python -m pytest

test-fast:  # the unit tier alone: in process, about a minute here (needs make install-dev once)
	$(VENV)/bin/python -m pytest -m unit

lint: install-dev
	$(VENV)/bin/ruff check .

bench: install
	$(VENV)/bin/python -m bench

soak: install-dev  # 10,000 + 1,000 requests against a real server, about three minutes; not in CI
	$(VENV)/bin/python scripts/soak.py

fuzz: install-dev  # the schemathesis test with ten times the examples of CI's run
	FUZZ_EXAMPLES=2000 $(VENV)/bin/python -m pytest tests/app/test_openapi.py -k schemathesis

container-test: install-dev  # builds and runs the Docker image with podman (root; about six minutes)
	VENV=$(VENV) bash scripts/container_test.sh
