# PatchPlan: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CELERY := $(VENV)/bin/celery
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-clock test-clock-browser lint format check clean

install: $(VENV)/.installed

# Reinstall when the declared dependencies or their pins change.
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@# Worker and beat run in the background of one shell; when the web server
	@# stops (Ctrl-C), the EXIT trap stops them too. The banner comes again
	@# once the servers have printed their own start-up lines.
	@bash -c 'trap "kill 0" EXIT; \
	  $(CELERY) -A patchplan worker --loglevel=INFO --pool=solo --without-mingle --without-gossip & \
	  $(CELERY) -A patchplan beat --loglevel=INFO & \
	  (sleep 6; echo; echo "==> PatchPlan: http://$(HOST):$(PORT)/  (Ctrl-C stops web, worker and beat)"; \
	   $(PY) manage.py seed_demo | tail -n +2; echo) & \
	  $(PY) manage.py runserver $(HOST):$(PORT)'

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# The clock-sensitive tests at 00:30, 06:00, 11:59, 12:01 and 23:30 Berlin on the
# DST-change Sundays and 31 December (time-machine; see tests/clock_matrix.sh).
# The browser flows through the gates at a travelled instant (00:30 on the DST Sunday:
# the hours before noon failed CI once, and the clocks change during the windows the flows
# run), on two xdist workers: `make test-clock-browser`, by hand before a release. Not in
# CI: they run there at the real time in the suite, and CI neared its 20 minutes with them
# (2 of 13 minutes on this machine, about 3 on the runner).
CLOCK_BROWSER_MODULES := tests/e2e/test_major_upgrade_flow.py tests/e2e/test_run_mode_holds_up.py \
  tests/e2e/test_advisory_flow.py tests/e2e/test_security_patch_flow.py tests/e2e/test_window_reminder_flow.py
CLOCK_BROWSER_POINTS := 2027-03-28T00:30+01:00
test-clock: install
	PY=$(PY) tests/clock_matrix.sh $(CLOCK_ARGS)

test-clock-browser: install
	PY=$(PY) CLOCK_MODULES="$(CLOCK_BROWSER_MODULES)" CLOCK_POINTS="$(CLOCK_BROWSER_POINTS)" \
	  tests/clock_matrix.sh -n 2 $(CLOCK_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@# The layers only point down (pyproject.toml, [tool.importlinter]).
	$(VENV)/bin/lint-imports --no-cache --no-logo

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

check: install
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py check

clean:
	rm -rf var/test var/celery var/mail
