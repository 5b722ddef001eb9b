# Every target bootstraps its own virtualenv at .venv/ from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/deconflict demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

test: lint
	$(BIN)/pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/detect.py
	$(BIN)/python bench/advise.py
	$(BIN)/python bench/resolve.py
	$(BIN)/python bench/broker.py --duration 60
	$(BIN)/python bench/store.py
	$(BIN)/python bench/volumes.py
	$(BIN)/python bench/private.py
	$(BIN)/python bench/hotline.py
	$(BIN)/python bench/replay.py
	$(BIN)/python bench/map.py --duration 120

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .ruff_cache .hypothesis
