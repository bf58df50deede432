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

# Benchmark (not part of `make test`; bench/README.md): the inspection (bench/bench.py;
# BENCH_ARGS, e.g. --hosts 50 --rounds 3), then the duties on a lab of their own: database
# care under load, restore drills, upgrades and rollbacks (bench/duty_<suite>.py).
# BENCH_SUITES picks, e.g. `make bench BENCH_SUITES=dbcare`.
BENCH_SUITES ?= inspection dbcare restore upgrade
.PHONY: bench
bench: setup-testhosts
	@for suite in $(BENCH_SUITES); do \
	  case $$suite in \
	    inspection) python3 bench/bench.py $(BENCH_ARGS) || exit 1 ;; \
	    dbcare|restore|upgrade) python3 bench/duty_$$suite.py || exit 1 ;; \
	    *) echo "BENCH_SUITES: unknown suite '$$suite' (expected inspection, dbcare, restore, upgrade)" >&2; exit 2 ;; \
	  esac; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
