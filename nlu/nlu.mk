# NLU targets (included by the main Makefile, which defines PY and VENV_STAMP).
# Rasa 3.6 needs Python 3.10: it lives in its own virtual env, nlu/.venv.

NLU_VENV := nlu/.venv
NLU_VENV_STAMP := $(NLU_VENV)/.installed-$(shell cat nlu/requirements.txt nlu/constraints.txt | sha1sum | cut -c1-12)

.PHONY: nlu-venv nlu-model nlu-eval nlu-check nlu-serve

# Python 3.10 from `python3.10` on PATH (if it runs: a pyenv shim only runs with PYENV_VERSION
# set) or from pyenv's versions directory; a clear error otherwise.
$(NLU_VENV_STAMP): nlu/requirements.txt nlu/constraints.txt
	@set -e; py=""; \
	if python3.10 -c 'import sys' >/dev/null 2>&1; then py="$$(command -v python3.10)"; \
	elif command -v pyenv >/dev/null 2>&1; then \
	  py="$$(ls -d "$$(pyenv root)"/versions/3.10.*/bin/python3.10 2>/dev/null | sort -V | tail -n1)"; \
	fi; \
	if [ -z "$$py" ] || ! "$$py" -c 'import sys' >/dev/null 2>&1; then \
	  echo "error: Python 3.10 not found (Rasa 3.6 needs it): put python3.10 on PATH or 'pyenv install 3.10'" >&2; \
	  exit 1; \
	fi; \
	echo "nlu: creating $(NLU_VENV) with $$py"; \
	test -x $(NLU_VENV)/bin/python || "$$py" -m venv $(NLU_VENV); \
	$(NLU_VENV)/bin/python -m pip install -q --upgrade pip; \
	$(NLU_VENV)/bin/python -m pip install -q -r nlu/requirements.txt -c nlu/constraints.txt
	rm -f $(NLU_VENV)/.installed-*
	touch $@

nlu-venv: $(NLU_VENV_STAMP)

# Trains nlu/models/<hash>.tar.gz only when it is missing (the hash covers config, data,
# dictionaries, taxonomy, the compound lookup generated from data/demo/compounds.csv).
nlu-model: $(VENV_STAMP) $(NLU_VENV_STAMP)
	$(PY) -m nlu train

# Cross-validation + held-out evaluation, baseline side by side: nlu/reports/eval-report.md
nlu-eval: nlu-model
	$(PY) -m nlu eval

nlu-check: $(VENV_STAMP)
	$(PY) -m nlu check-data

nlu-serve: nlu-model
	$(PY) -m nlu serve

RUN_DEPS += nlu-model
TEST_DEPS += nlu-model
BENCH_DEPS += nlu-model
