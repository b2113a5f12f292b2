# Berth: `make up` starts everything, `make test` runs the whole suite, `make down` stops it all.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEB_PACKAGES := runc conmon nftables iproute2 redis-server busybox-static tini procps
TEST_DEB_PACKAGES := docker.io docker-compose docker-registry apache2-utils chromium etcd-server etcd-client iperf3

.PHONY: up down test deps test-deps venv lint bench bench-console bench-overlay clean

up: deps venv
	@scripts/up.sh

down:
	@scripts/down.sh

test: deps test-deps venv
	$(PY) -m pytest tests

deps:
	@scripts/apt-install.sh $(DEB_PACKAGES)

test-deps:
	@scripts/apt-install.sh $(TEST_DEB_PACKAGES)

venv: $(VENV)/.stamp

$(VENV)/.stamp: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	@touch $@

lint: venv
	$(VENV)/bin/ruff check engine console tests bench
	$(VENV)/bin/mypy engine

bench: deps test-deps venv
	$(PY) -m bench

# The console's figures: pages and API with 200 containers, live-log latency, clicks during a log flood.
bench-console: deps test-deps venv
	$(PY) -m bench.console

# An overlay network between two hosts (network namespaces) against their underlay: iperf3 and ping.
bench-overlay: deps test-deps venv
	$(PY) -m bench.overlay

clean: down
	rm -rf $(VENV)
