# The README's two commands: `make serve` and `make test`.
VENV ?= .venv
HOST ?= 0.0.0.0
PORT ?= 8000

.PHONY: install install-dev serve test lint bench

install:
	bash scripts/install.sh

install-dev:
	bash scripts/install.sh --dev

serve: install
	$(VENV)/bin/gan-serve --host $(HOST) --port $(PORT)

test: install-dev
	$(VENV)/bin/python -m pytest

lint: install-dev
	$(VENV)/bin/ruff check .

bench: install
	$(VENV)/bin/python -m app.bench
