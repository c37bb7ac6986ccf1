# lanbridge.core: one entry point for people and CI. Run as root (the lab and the
# integration tests create network namespaces; nothing touches the root namespace).
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

ROOT        := $(abspath .)
PYTHON      ?= python3.11
VENV        := $(ROOT)/.venv
VENV07      := $(ROOT)/.venv-pyroute2-0.7
BUILD       := $(ROOT)/.build
COLLECTIONS := $(BUILD)/collections
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := false
export PATH := $(VENV)/bin:$(PATH)
export LANBRIDGE_LAB_DIR ?= $(ROOT)/.lab

.PHONY: package help deps venv collection test unit integration integration-pyroute2-0.7 lab-test booted-test \
        test-hosts sanity lint molecule demo lab-up lab-down bench build clean ee

help:
	@echo "make deps      install apt packages and the Python toolchain (root)"
	@echo "make test      every test and check (what CI runs)"
	@echo "make demo      bring up the lab and run the collection against it"
	@echo "make lab-up    bring up the lab;  make lab-down  tear it down"
	@echo "make bench     the benchmark (not part of make test)"
	@echo "make test-hosts  the booted host kinds' smoke tests (not part of make test)"

# `sudo make test` and `sudo make demo` work as the first command on a fresh machine: they install
# what is missing first (apt packages once, recorded in a stamp; the venvs when requirements change).
APT_STAMP := $(BUILD)/.apt.stamp

deps:
	bash scripts/install-deps.sh
	mkdir -p $(BUILD) && touch $(APT_STAMP)

$(APT_STAMP): scripts/install-deps.sh
	$(MAKE) deps

$(VENV)/.stamp: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

$(VENV07)/.stamp: requirements-pyroute2-0.7.txt
	$(PYTHON) -m venv $(VENV07)
	$(VENV07)/bin/pip install -q -r requirements-pyroute2-0.7.txt
	touch $@

venv: $(VENV)/.stamp $(VENV07)/.stamp

# The collection as Ansible wants to find it: .build/collections/ansible_collections/lanbridge/core -> the checkout.
collection:
	mkdir -p $(COLLECTIONS)/ansible_collections/lanbridge
	ln -sfn $(ROOT) $(COLLECTIONS)/ansible_collections/lanbridge/core

test: $(APT_STAMP) venv collection lint sanity package unit integration integration-pyroute2-0.7 lab-test booted-test molecule
	@echo "make test: all checks passed"

unit: venv collection
	$(VENV)/bin/pytest -q tests/unit

integration: venv collection
	$(VENV)/bin/pytest -q tests/integration

integration-pyroute2-0.7: venv collection
	$(VENV07)/bin/pytest -q tests/integration

lab-test: venv
	$(VENV)/bin/pytest -q tests/lab

# The collection on booted lab hosts (systemd-nspawn): persistence through each network manager,
# and the lanbridge-attach agent (restarts, engine restart, SIGKILL, reboot).
booted-test: venv collection
	$(VENV)/bin/pytest -q tests/booted --ignore-glob='tests/booted/test_hosts_*'

# The booted host kinds, one smoke test each (not part of make test): netplan (renderer networkd and
# NetworkManager) on Debian 12, and Debian 13 hosts (networkd, NetworkManager, netplan; Podman 5 on one).
test-hosts: $(APT_STAMP) venv collection
	$(VENV)/bin/pytest -q tests/booted/test_hosts_*.py

sanity: venv
	bash scripts/sanity.sh

# The tarball (installed, every module and the role through ansible-doc), the execution environment's
# build context (ansible-builder create; nothing pulled or built) and a trial release in a copy of the tree.
package: venv
	bash scripts/package-test.sh
	bash tests/ee/run.sh
	bash scripts/release-test.sh

# The execution environment's build context in .build/ee/context (then: podman build .build/ee/context).
ee: venv
	EE_CONTEXT=$(BUILD)/ee/context bash tests/ee/run.sh

lint: venv collection
	$(VENV)/bin/ruff check .
	$(VENV)/bin/antsibull-changelog lint
	$(VENV)/bin/yamllint -s .
	$(VENV)/bin/ansible-lint --profile production
	$(VENV)/bin/antsibull-docs lint-collection-docs --plugin-docs --check-extra-docs-refs .

molecule: venv collection
	bash scripts/molecule.sh

# make lab-up BOOTED=networkd,ifupdown:dhcp,networkmanager  (booted hosts 1..3; HOSTS=N for more, bare)
lab-up:
	python3 tests/lab/lab.py up $(if $(HOSTS),--hosts $(HOSTS)) $(if $(BOOTED),--booted $(BOOTED))

lab-down:
	python3 tests/lab/lab.py down

demo: $(APT_STAMP) venv collection
	bash scripts/demo.sh

# The benchmark's own tools (matplotlib for docs/benchmark.png, mitogen to measure its strategy) go into
# .venv here only, not with make deps or in CI.  make bench BENCH_ARGS="--sizes 10 --fleet 1,2" for a short run.
$(VENV)/.bench.stamp: requirements-bench.txt $(VENV)/.stamp
	$(VENV)/bin/pip install -q -r requirements-bench.txt
	touch $@

bench: venv collection $(VENV)/.bench.stamp
	bash tests/bench/run.sh --png docs/benchmark.png $(BENCH_ARGS)

build:
	$(VENV)/bin/ansible-galaxy collection build --force --output-path $(BUILD)

clean: lab-down
	rm -rf $(BUILD) tests/output
