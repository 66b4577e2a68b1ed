# Diancai — every set-up step lives here, so a fresh clone needs only `make run` or `make test`.
# Area-specific targets live beside their code: nlu/nlu.mk, sandbox/sandbox.mk.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON311 ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

LOCALES_DIR := bot/locales
MO_FILES := $(patsubst %.po,%.mo,$(wildcard $(LOCALES_DIR)/*/LC_MESSAGES/*.po))

.PHONY: help venv cjk-fonts migrate demo-data i18n-extract i18n-update i18n-compile run test test-fast lint format bench qr clean

help:
	@echo "make run    — set everything up and start the bot (sandbox without a token)"
	@echo "make test   — set everything up and run the whole test suite"
	@echo "make bench  — run the benchmarks in bench/"
	@echo "make migrate | demo-data | qr | lint | format | i18n-extract | i18n-update | i18n-compile"

$(VENV_STAMP): pyproject.toml
	@command -v $(PYTHON311) >/dev/null || { echo "error: $(PYTHON311) not found; install Python 3.11" >&2; exit 1; }
	test -x $(PY) || $(PYTHON311) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(VENV_STAMP)

# Babel workflow: extract → update the .po catalogs → compile to .mo (compiled files are not committed).
i18n-extract: venv
	$(VENV)/bin/pybabel -q extract --input-dirs=bot,models,scheduler -k __ -k N_ -o $(LOCALES_DIR)/messages.pot

i18n-update: i18n-extract
	$(VENV)/bin/pybabel -q update -d $(LOCALES_DIR) -D messages -i $(LOCALES_DIR)/messages.pot --no-fuzzy-matching

%.mo: %.po $(VENV_STAMP)
	$(VENV)/bin/pybabel compile -f -i $< -o $@

i18n-compile: $(MO_FILES)

migrate: venv
	$(VENV)/bin/alembic upgrade head

# The demo registry, for development databases only: `make run` loads it itself for the
# sandbox, and never with a real TELEGRAM_BOT_TOKEN (README, "Going live").
demo-data: migrate
	$(PY) -m models.registry import data/demo/compounds.csv --plan data/demo/plan_items.csv

# Posters for the registry in DATABASE_URL, linking to the running bot (getMe).
qr: migrate cjk-fonts
	$(PY) -m bot.qr --all --out var/qr

# Installs Debian packages (named in $$missing) with apt, as root or through sudo.
APT_INSTALL = SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO="sudo"; \
	$$SUDO apt-get update -q && \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing

# A CJK font for the QR posters, the web chat and the monthly report's chart:
# Debian's fonts-noto-cjk, where missing.
cjk-fonts:
	@missing=""; test -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc || missing="fonts-noto-cjk"; \
	if [ -n "$$missing" ]; then echo "installing $$missing"; $(APT_INSTALL); fi

-include nlu/nlu.mk
-include sandbox/sandbox.mk

# Prerequisites each area adds to run and test (set in the included fragments).
RUN_DEPS ?=
TEST_DEPS ?=

# bot.launch loads the demo registry and demo staff for the sandbox only (without a token).
run: venv i18n-compile cjk-fonts $(RUN_DEPS)
	$(PY) -m bot.launch

test: venv i18n-compile lint $(TEST_DEPS)
	$(PY) -m pytest $(PYTEST_ARGS)

# The tests that need neither Rasa nor the browser: quick feedback while coding.
test-fast: venv i18n-compile cjk-fonts
	$(PY) -m pytest -m "not rasa and not browser and not e2e" $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: venv $(BENCH_DEPS)
	$(PY) -m bench

clean:
	rm -rf var/*.db var/qr test-artifacts .pytest_cache
