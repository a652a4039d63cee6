# Two entry points: `make run` (set up, then start the app on the bundled corpus) and
# `make test` (set up, then run the whole test suite, browser tests included).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install chromium run test bench

$(BIN)/python:
	$(PY) -m venv $(VENV)
	# torch first: this exact version is a CPU wheel on local disk; any other spec pulls CUDA builds
	$(BIN)/pip install --quiet torch==2.13.0

install: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	# export the bundled model to int8 ONNX once (cached), so the first start is fast
	$(BIN)/python -c "from ingest.embedding import get_embedder; get_embedder()"

chromium:
	command -v chromium >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium)

run: install
	$(BIN)/python app.py

test: install chromium
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/latency.py
