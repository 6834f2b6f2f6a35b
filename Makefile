# Everything a fresh Debian machine needs is installed by these targets.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv control-plane test unit integration demo bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# Builds kube-apiserver/kube-controller-manager 1.20.2 from Debian's source package (first time only,
# about 4 minutes) and installs etcd; cached in ~/.cache/kubesync/k8s-1.20.2/bin.
control-plane:
	@if [ -z "$$KUBESYNC_TEST_KUBECONFIG" ]; then scripts/build-control-plane; fi

test: venv control-plane
	$(BIN)/pytest -q -ra tests

unit: venv
	$(BIN)/pytest -q tests/unit

integration: venv control-plane
	$(BIN)/pytest -q -ra tests/integration tests/e2e

demo: venv control-plane
	$(BIN)/python scripts/demo.py

bench: venv control-plane
	$(BIN)/python bench/bench.py

clean:
	rm -rf $(VENV) *.egg-info
