# Everything a fresh Debian machine needs is installed by these targets.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The Kubernetes versions the integration and e2e suites run against, newest first.
K8S_VERSIONS ?= 1.37 1.20
PYTEST := $(BIN)/pytest -q -ra -p no:cacheprovider

.PHONY: venv control-plane browser test unit integration demo bench bench-daemon clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# Builds (first time only) and caches the control planes in ~/.cache/kubesync/k8s-<version>/bin:
# 1.37.2 from the Go module proxy (scripts/build-k8s-1.37) and 1.20.2 from Debian's source package
# (scripts/build-k8s-1.20). Skipped when the tests run against an existing cluster.
control-plane:
	@if [ -z "$$KUBESYNC_TEST_KUBECONFIG" ]; then scripts/build-control-plane $(K8S_VERSIONS); fi

# Debian's chromium for the dashboard's browser tests (driven by Playwright with executable_path;
# no browser download).
browser:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium >/dev/null; }

# Unit tests once, then the integration and e2e suites once per Kubernetes version (each leg
# reported on its own; a failure in any leg fails the run, after every leg has run). Against an
# existing cluster (KUBESYNC_TEST_KUBECONFIG) the suites run once, on that cluster.
test: venv control-plane browser
	@scripts/run-tests "$(PYTEST)" $(K8S_VERSIONS)

unit: venv
	$(PYTEST) tests/unit

integration: venv control-plane
	@scripts/run-tests --no-unit "$(PYTEST)" $(K8S_VERSIONS)

demo: venv control-plane
	$(BIN)/python scripts/demo.py

bench: venv control-plane
	$(BIN)/python bench/bench.py

# The daemon at scale (issue 17): N syncs of 5 objects, API requests counted by the API server.
# Takes long at the default sizes; e.g. `make bench-daemon ARGS="--sizes 10,30 --steady 30 --failover 10"`.
bench-daemon: venv control-plane
	$(BIN)/python bench/daemon.py $(ARGS)

clean:
	rm -rf $(VENV) *.egg-info
