# Two entry points: `make run` (set up, then start the app on the bundled corpus; PORT=... HOST=...
# choose where) and `make test` (set up, then run the whole test suite, browser tests included).
# pip prints each package as it goes: a fresh machine takes a few minutes.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 7860
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install install-test chromium run test bench

$(BIN)/python:
	@echo "==> creating $(VENV) and installing torch 2.13.0 (the CPU wheel)"
	$(PY) -m venv $(VENV)
	# torch first: this exact version is a CPU wheel on local disk; any other spec pulls CUDA builds
	$(BIN)/pip install torch==2.13.0

install: $(BIN)/python
	@echo "==> installing policyqa and what the app needs"
	$(BIN)/pip install -c constraints.txt -e .
	@echo "==> exporting the bundled embedding model to int8 ONNX (once; cached)"
	$(BIN)/python -c "from ingest.embedding import get_embedder; get_embedder()"

install-test: install
	@echo "==> installing what the tests need"
	$(BIN)/pip install -c constraints.txt -e '.[test]'

chromium:
	command -v chromium >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium)

run: install
	@echo "==> starting the app on http://$(HOST):$(PORT) (the first start ingests corpus/)"
	$(BIN)/python app.py --host $(HOST) --port $(PORT)

test: install-test chromium
	$(BIN)/python -m pytest

bench: install
	$(BIN)/pip install -c constraints.txt -e '.[bench]'
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/latency.py
