# dialysis-ops: the README's commands.
#   make inspect   set up and run the main job against the demo inventory
#   make test      set up everything the tests need and run them all
SHELL := /bin/bash
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: setup setup-testhosts inspect test lint unit molecule clean

setup:
	@scripts/setup.sh

setup-testhosts: setup
	@scripts/setup-testhosts.sh

inspect: setup
	ansible-playbook playbooks/inspect.yml $(ARGS)

lint: setup
	ruff check plugins tests molecule bench lab
	ansible-lint --profile production playbooks roles lab/provision.yml lab/ansible molecule/lab molecule/restart molecule/patch molecule/dbcare molecule/backup molecule/upgrade
	scripts/sanity.sh

unit: setup
	pytest tests/unit tests/integration lab/software/tests

molecule: setup-testhosts
	molecule test -s inspection && molecule test -s lab && molecule test -s restart && molecule test -s patch && molecule test -s dbcare && molecule test -s backup && molecule test -s upgrade

test: lint unit molecule

# The lab hospital (lab/README.md): five podman hosts with PostgreSQL, MariaDB, the
# dialysis service, collector and interface stand-in, provisioned; inventory in
# inventories/lab (passwords in its lab.env). LAB_ARGS: e.g. --size 20000, --plant bloat.
.PHONY: lab lab-down
lab: setup-testhosts
	python3 lab/labctl.py up $(LAB_ARGS)

lab-down: setup
	python3 lab/labctl.py down

# Benchmark (not part of `make test`): BENCH_HOSTS (50), BENCH_ROUNDS (3); see bench/README.md.
.PHONY: bench
bench: setup-testhosts
	python3 bench/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
