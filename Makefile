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

# The suite compiles hundreds of small programs and runs most for a few steps: at XLA's
# backend optimisation level 0 (the same programs, less LLVM work) it takes a third less
# CPU. test-slow's quality runs keep the default level. loadfile: a file's tests run
# in one process, which builds its module-scoped fixtures (fitted models, subprocess runs)
# and compiles its shapes once ("load" spread them over both workers, which both did).
test: $(VENV)/.installed
	$(BIN)/ruff check .
	XLA_FLAGS="$(XLA_FLAGS) --xla_backend_optimization_level=0" \
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
