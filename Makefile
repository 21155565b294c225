# The two commands of README.md: `make run` (the main job on the embedded sample corpus)
# and `make test` (lint, the import contract, the test suite). Both set up .venv first,
# once: the CPU build of torch is pinned before the project so pip never pulls CUDA
# wheels, and the stamp file keeps a second call from reinstalling anything.

VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH := torch==2.13.0
EXTRAS := dev,tune,scale,vectors,onnx,openvino,e5
SAMPLE_RUN := runs/sample-lookup

.PHONY: setup run test lint

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check $(TORCH)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[$(EXTRAS)]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/harness run --system lookup --data sample --out $(SAMPLE_RUN) --force
	$(BIN)/harness score $(SAMPLE_RUN)/predictions/valid sample --split valid

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest -q
