# PatchPlan: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CELERY := $(VENV)/bin/celery
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint format check clean

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
	@echo "PatchPlan on http://$(HOST):$(PORT)/ (Ctrl-C stops the web server, worker and beat)"
	@bash -c 'trap "kill 0" EXIT; \
	  $(CELERY) -A patchplan worker --loglevel=INFO --pool=solo --without-mingle --without-gossip & \
	  $(CELERY) -A patchplan beat --loglevel=INFO & \
	  $(PY) manage.py runserver $(HOST):$(PORT)'

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

check: install
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py check

clean:
	rm -rf var/test var/celery var/mail
