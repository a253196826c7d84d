# One entry point: `make demo` builds the demo superrun, `make test` runs the tests.
# Both create .venv on first use, with the exact versions of constraints.txt (pyproject.toml
# gives ranges); so does every environment made here.
PYTHON ?= python3
VENV ?= .venv
CORES ?= 2
# Optional extras to install too, e.g. EXTRAS=test,strax (CI runs the strax tests).
# `test` includes `workflow` (Snakemake); the core package alone needs no Snakemake.
EXTRAS ?= test
# `make demo` needs only the workflow (`superruns[workflow]`: the core and Snakemake).
DEMO_EXTRAS ?= workflow
BIN := $(VENV)/bin
# A second environment for straxen jobs and analysts: straxen's own pins (utilix needs
# pydantic<2, Snakemake 9 needs pydantic 2) plus the core package, no Snakemake.
STRAXEN_VENV ?= .venv-straxen
STRAXEN_VERSION ?= 4.1.1

CONSTRAINTS := constraints.txt

.PHONY: demo report test test-fast lint bench clean straxen-env config-docs wheel

$(BIN)/.installed-%: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e '.[$*]'
	touch $@

$(STRAXEN_VENV)/bin/.installed: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(STRAXEN_VENV)
	$(STRAXEN_VENV)/bin/pip install --quiet --upgrade pip
	$(STRAXEN_VENV)/bin/pip install --quiet -c $(CONSTRAINTS) 'straxen==$(STRAXEN_VERSION)' -e .
	touch $@

# The wheel, workflow included (setup.py): pip install 'dist/superruns-*.whl[workflow]' -c constraints.txt,
# then `superruns init` and `superruns run` anywhere (README, "Install without a clone").
wheel:
	$(PYTHON) -m pip wheel --quiet --no-deps -w dist .

# The straxen environment (docs/strax.md): `strax: {python: .venv-straxen/bin/python}`.
straxen-env: $(STRAXEN_VENV)/bin/.installed

# The config's default_target: the demo superrun _sr1_v0.2/event_info.
demo: $(BIN)/.installed-$(DEMO_EXTRAS)
	$(BIN)/snakemake --cores $(CORES)

# The demo superrun's summary pages (figures included) and Snakemake's report of them: report.html
# (tests/e2e/test_report_screenshot.py renders the same report in headless Chromium).
REPORT_PAGES = $(foreach dt,event_info peaks raw_records,summary/_sr1_v0.2/$(dt).html)
report: $(BIN)/.installed-$(DEMO_EXTRAS)
	$(BIN)/snakemake --cores $(CORES) $(REPORT_PAGES)
	$(BIN)/snakemake --report report.html $(REPORT_PAGES)

test: $(BIN)/.installed-$(EXTRAS)
	$(BIN)/pytest

# The unit layer alone (tests/unit: no snakemake run): ~15 s of pytest on 2 cores once .venv
# exists (measured: 15 s wall); the first call creates .venv too (~70 s in all, pip's cache warm).
test-fast: $(BIN)/.installed-$(EXTRAS)
	$(BIN)/pytest tests/unit

# Snakemake's own lints, snakefmt's formatting, and ruff ([tool.ruff] in pyproject.toml:
# syntax errors, pyflakes, import order) over the Python code.
lint: $(BIN)/.installed-$(EXTRAS)
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile rules/
	$(BIN)/ruff check workflow tests benchmarks scripts setup.py

# Benchmarks against strax need the strax extra: make bench EXTRAS=test,strax
bench: $(BIN)/.installed-$(EXTRAS)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf data .snakemake

# config/README.md from the configuration's schema (tests/unit/test_config_docs.py checks it).
config-docs: $(BIN)/.installed-$(EXTRAS)
	$(BIN)/python -m superruns.base.schema_docs > config/README.md
