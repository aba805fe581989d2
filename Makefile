# defneqr.dbops: `make setup`, `make test`, `make lint`, `make demo`, `make bench`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(abspath build/collections)

.PHONY: setup lint sanity units functional e2e integration molecule test demo demo-rollback bench clean
E2E := tests/functional/test_deploy_playbook.py tests/functional/test_recover.py tests/functional/test_backup_playbooks.py \
	tests/functional/test_ssh_hosts.py tests/functional/test_online_deploy.py

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) tests/tools/install_get_pip_stub.py
	touch $@

tools/pm2/node_modules/.installed: tools/pm2/package-lock.json
	cd tools/pm2 && npm ci --no-audit --no-fund --loglevel=error
	touch $@

tools/prisma/node_modules/.installed: tools/prisma/package-lock.json
	cd tools/prisma && npm ci --no-audit --no-fund --loglevel=error
	touch $@

examples/defneqr/backend/node_modules/.installed: examples/defneqr/backend/package-lock.json
	cd examples/defneqr/backend && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# awx.awx for playbooks/awx_templates.yml (lint and its test), taken from the pinned `ansible` package on PyPI:
# Galaxy is not reachable from these machines.
AWX_COLLECTION := build/collections/ansible_collections/awx/awx/MANIFEST.json
$(AWX_COLLECTION): $(VENV)/.installed
	rm -rf build/awx-download
	$(BIN)/pip download --quiet --disable-pip-version-check --no-deps -d build/awx-download ansible==12.3.0
	$(PY) -c 'import glob, zipfile; z = zipfile.ZipFile(glob.glob("build/awx-download/ansible-*.whl")[0]); \
	  z.extractall("build/collections", [n for n in z.namelist() if n.startswith("ansible_collections/awx/awx/")])'
	rm -rf build/awx-download

setup: $(VENV)/.installed tools/pm2/node_modules/.installed tools/prisma/node_modules/.installed \
	examples/defneqr/backend/node_modules/.installed $(AWX_COLLECTION)
	$(PY) -c 'import sys; sys.path.insert(0, "tests/harness"); import paths; paths.collections_root()'

# --offline with the checkout's collections path: otherwise ansible-lint installs a copy of the collection
# into ~/.ansible/collections, which then shadows the checkout for every later ansible-playbook of that user.
lint: setup
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/build/collections $(BIN)/ansible-lint --offline
	$(BIN)/antsibull-changelog lint

sanity: setup
	cd "$$(tests/tools/stage_collection.sh)" && $(abspath $(BIN))/ansible-test sanity --venv --python 3.11 --color no

units: setup
	$(BIN)/pytest -q tests/unit

functional: setup
	$(BIN)/pytest -v --durations=15 tests/functional $(addprefix --ignore=,$(E2E))

e2e: setup
	$(BIN)/pytest -v --durations=15 $(E2E)

# ansible-test integration: one target per module (tests/integration/targets), PostgreSQL 15 and 18.
integration: setup
	tests/tools/run_integration.sh

# The role scenarios on a db1/app1/app2 inventory of local hosts (extensions/molecule/config.yml).
# Molecule 26 first prints "CRITICAL 'extensions/molecule/default/molecule.yml' glob failed": it looks
# for an optional shared `default` scenario, finds none, and goes on with the five.
molecule: setup
	$(BIN)/molecule test --all

test: lint sanity units functional e2e integration molecule

demo: setup
	$(PY) examples/demo/run_demo.py $(if $(KEEP),--keep)

demo-rollback: setup
	$(PY) examples/demo/run_demo.py --rollback $(if $(KEEP),--keep)

bench: setup
	$(BIN)/pip install --quiet --disable-pip-version-check matplotlib
	QUICK=$(QUICK) $(PY) bench/run.py

clean:
	rm -rf build tests/output
