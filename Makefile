# Two commands for a new user on a fresh Debian/Ubuntu machine (as root: the lab needs rootful Podman):
#   make demo   builds the lab and runs the main job (the site playbook) on it
#   make test   runs every test: unit, quality gates and the Molecule scenarios, ending with pytest's summary
# The other targets are the pieces those two are made of.
SHELL := /bin/bash
PYTHON ?= python3
PYTEST_ARGS ?=
ENV := source scripts/env.sh &&
COLLECTION_LINK := .cache/ansible-home/collections/ansible_collections/aigateway/bifrost

.PHONY: demo test venv lab collection lint sanity unit molecule clean

demo: venv lab collection
	$(ENV) bash scripts/demo.sh

test: venv lab collection
	$(ENV) pytest $(PYTEST_ARGS) tests

# .venv: the pinned tool set. Each supported ansible-core gets its own environment from tests/quality/test_core_versions.py.
venv: .venv/.stamp
.venv/.stamp: requirements-dev.txt
	$(PYTHON) -m venv .venv
	.venv/bin/pip install -q --upgrade pip
	.venv/bin/pip install -q -r requirements-dev.txt
	touch $@

lab: venv
	$(ENV) bash scripts/lab.sh

# The collection under test, found by ansible, molecule and ansible-doc on the collections path.
collection:
	mkdir -p $(dir $(COLLECTION_LINK))
	ln -sfn $(CURDIR) $(COLLECTION_LINK)

lint: venv collection
	$(ENV) ruff check . && ansible-lint --offline -q

# ansible-test sanity with every supported ansible-core (the whole version matrix: `pytest tests/quality/test_core_versions.py`).
sanity: venv lab collection
	$(ENV) pytest tests/quality/test_core_versions.py -k sanity

unit: venv collection
	$(ENV) pytest tests/unit

molecule: venv lab collection
	$(ENV) pytest tests/scenarios

clean:
	rm -rf .cache .artifacts tests/output
