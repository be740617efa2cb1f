# Set-up and entry points. Every target that runs code first makes sure that
# .venv exists and holds exactly the packages pinned in requirements.txt.
# llama-cpp-python builds from source: GGML_NATIVE=OFF because a native build
# crashes on its first forward pass on CPUs that advertise AMX, and --no-cache-dir
# so that pip cannot reuse a wheel built natively elsewhere.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: setup test repro lock benchmarks

setup: $(INSTALLED)

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/python -m pip install --quiet --disable-pip-version-check \
		--no-cache-dir --require-hashes -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(INSTALLED)

test: $(INSTALLED)
	$(BIN)/python -m pytest

# check-params reports a bad params.yaml on one line before DVC reads it.
repro: $(INSTALLED)
	$(BIN)/llmvalues check-params
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

# Every benchmark (about 25 minutes on 2 cores), then docs/benchmarks.md from the results.
benchmarks: repro
	$(BIN)/python benchmarks/run.py

# Recompile requirements.txt from requirements.in (needs network access to the
# package index). Commit both files together.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links --output-file requirements.txt requirements.in
