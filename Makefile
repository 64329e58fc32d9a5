# netpilot: two commands on a fresh machine.
#   make demo   set up .venv and run the main job
#   make test   set up .venv, install the Debian packages the tests need, run ruff, import-linter,
#               mypy and pytest
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV    := $(VENV)/.installed-dev
# Debian packages (checked with dpkg, installed only when missing). Runtime ones are needed
# before pip runs (the libyang bindings build against libyang2-dev); test ones only by the suite.
APT_RUNTIME ?= libyang2-dev
APT_TEST    ?= prometheus etcd-server chromium iproute2
PYTEST_ARGS ?=
WORKERS     ?= 2

.PHONY: demo test setup setup-dev runtime-deps test-deps vendor-yang apt-install lint typecheck clean

demo: setup
	$(BIN)/netpilot demo

# The suite in two parts: everything not marked `serial` on 2 xdist workers (a file stays on one
# worker, so its module-scoped servers start once), then the `serial` tests alone, because they
# judge the live controller in real time and need the cores to themselves. pytest's exit 5 (no
# test selected, e.g. PYTEST_ARGS naming one file) is not a failure. The slowest tests are listed
# so that the suite's budget (well under 15 min on CI's 2 cores) is watched run by run.
test: setup-dev test-deps vendor-yang lint typecheck
	$(BIN)/pytest -n $(WORKERS) --dist loadfile -m "not serial" --durations=15 $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(BIN)/pytest -p no:xdist -m serial --durations=5 $(PYTEST_ARGS) || [ $$? -eq 5 ]

# The demo needs netpilot's own dependencies; the suite also the dev tools (pytest, ruff, mypy,
# import-linter, schemathesis...), installed on top.
setup: runtime-deps $(STAMP)

setup-dev: setup $(DEV)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e .
	@touch $(STAMP)

$(DEV): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(DEV)

# The vendor YANG modules (IOS-XR 6.6.3, OpenConfig 0.1.9) the iosxr and openconfig device
# flavours are validated against: fetched from PyPI's sdists into var/yang-cache/ (git-ignored),
# once per machine (about 40 s each), never copied into the repo.
vendor-yang: setup
	$(BIN)/python -m controller.southbound.vendor_yang

runtime-deps:
	@$(MAKE) --no-print-directory apt-install PKGS="$(APT_RUNTIME)"

test-deps:
	@$(MAKE) --no-print-directory apt-install PKGS="$(APT_TEST)"

apt-install:
	@missing=""; for p in $(PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo

typecheck: setup-dev
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
