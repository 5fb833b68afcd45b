# The two set-up commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export XLA_FLAGS ?= --xla_cpu_multi_thread_eigen=true

.PHONY: run test test-slow fuzz bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

run: $(VENV)/.installed
	$(BIN)/hiddenstate reproduce --quick --out results

# The suite compiles hundreds of small programs and runs most for a few steps, so its
# time is mostly XLA compiling. At backend optimisation level 0 (the same programs, less
# LLVM work) it takes a third less CPU; XLA:CPU's older elemental emitters
# (--xla_cpu_use_fusion_emitters=false) compile in about 40% less again, and make test
# run in half the time, though the loops they emit run slower (which is why users keep
# the default). Splitting each program's LLVM module for parallel code generation only
# costs time when both cores already run a test worker: one part
# (--xla_cpu_parallel_codegen_split_count=1) takes a tenth less CPU. FAST_CODEGEN probes
# that the installed XLA still knows each flag: an unknown flag in XLA_FLAGS aborts the
# process. test-slow's quality runs keep XLA's defaults. loadfile: a file's tests run in one process, which builds its module-scoped
# fixtures (fitted models, subprocess runs) and compiles its shapes once.
XLA_KNOWS = $(shell XLA_FLAGS=$(1) $(BIN)/python -c \
	"import jax.numpy as jnp; jnp.zeros(1).block_until_ready()" >/dev/null 2>&1 && echo $(1))
FAST_CODEGEN = $(call XLA_KNOWS,--xla_cpu_use_fusion_emitters=false) \
	$(call XLA_KNOWS,--xla_cpu_parallel_codegen_split_count=1)

test: $(VENV)/.installed
	$(BIN)/ruff check .
	XLA_FLAGS="$(XLA_FLAGS) --xla_backend_optimization_level=0 $(FAST_CODEGEN)" \
	  $(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not slow"

test-slow: $(VENV)/.installed
	$(BIN)/python -m pytest -q -m slow

# 10,000 inputs per loader (the text tables, sequences, sentences, labels, rt-polarity,
# .npy, IDX and model-file fuzzers), 500 command lines per CLI fuzzer (run in a child
# under a memory limit); the statistics say how many inputs each test ran.
fuzz: $(VENV)/.installed
	HYPOTHESIS_PROFILE=full HIDDENSTATE_CLI_FUZZ=500 $(BIN)/python -m pytest -q tests/test_fuzz.py \
		-p no:cacheprovider --hypothesis-show-statistics

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/run.py --out benchmarks/results
	$(BIN)/python benchmarks/scaling.py --out benchmarks/results

lint: $(VENV)/.installed
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) results benchmarks/results
