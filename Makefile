# Two commands for a fresh machine with Python 3.10+ and make:
#   make demo   - install comfylog alone (its runtime dependencies) into .venv and analyse a bundled example log
#   make test   - install the development tools too, lint (ruff, cargo fmt/clippy, the workflows), type-check
#                 (mypy) and run every test (pytest, cargo test)
# With a working Rust toolchain (`cargo --version` runs) the native scanner (native/, comfylog._native)
# is built and used, and a failed Rust build is an error; without one comfylog installs as pure Python.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
STAMP := $(VENV)/.installed
HAVE_CARGO := $(shell cargo --version >/dev/null 2>&1 && echo yes)
ifeq ($(HAVE_CARGO),yes)
COMFYLOG_BUILD ?= native
NATIVE_SOURCES := native/Cargo.toml native/Cargo.lock $(wildcard native/src/*.rs native/src/*/*.rs)
else
COMFYLOG_BUILD ?= auto
NATIVE_SOURCES :=
endif
export COMFYLOG_BUILD

.PHONY: demo test lint lint-rust test-rust clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME): pyproject.toml build_backend/backend.py $(NATIVE_SOURCES) | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME)

$(STAMP): pyproject.toml build_backend/backend.py $(NATIVE_SOURCES) | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(RUNTIME) $(STAMP)

demo: $(RUNTIME)
	$(BIN)/comfylog --version
	$(BIN)/comfylog analyze examples/runpod-lowvram-gguf.log

lint: $(STAMP) lint-rust
	$(BIN)/ruff check src tests build_backend benchmarks
	$(BIN)/mypy
	$(BIN)/mypy --strict examples/step_rate_by_gpu.py benchmarks
	$(BIN)/actionlint .github/workflows/wheels.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/wheels.yml

test: lint test-rust
	$(BIN)/python -m pytest

ifeq ($(HAVE_CARGO),yes)
lint-rust:
	cd native && cargo fmt --check
	cd native && cargo clippy --all-targets --locked -- -D warnings

test-rust:
	cd native && cargo test --locked
else
lint-rust test-rust:
	@echo "no working cargo: the Rust checks are skipped (comfylog is installed as pure Python)"
endif

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/output native/target src/comfylog/_native*.so
