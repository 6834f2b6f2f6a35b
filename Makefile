# Everything a fresh Debian machine needs is installed by these targets.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The Kubernetes versions the integration and e2e suites run against, newest first.
K8S_VERSIONS ?= 1.37 1.20
PYTEST := $(BIN)/pytest -q -ra -p no:cacheprovider

# The pinned tools the tests run, built from the Go module proxy by kubesync/recipes/build-<tool>
# and cached in ~/.cache/kubesync/tools (see kubesync/tools.py for the KUBESYNC_<TOOL> overrides).
TEST_TOOLS ?= kwok,helm,kustomize,sops,registry,age-keygen
# The demo runs the newest control plane only (with kwok, which comes with every control plane),
# plus the tools listed here (comma-separated; none today).
DEMO_K8S ?= $(firstword $(K8S_VERSIONS))
DEMO_TOOLS ?=

.PHONY: venv control-plane tools demo-build browser test unit integration demo bench bench-daemon wheel lock image image-smoke clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	@# the distribution was called "kubesync" before it took a name free on PyPI: drop the old one
	$(BIN)/pip uninstall -q -y kubesync 2>/dev/null || true
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# Builds (first time only) and caches the control planes in ~/.cache/kubesync/k8s-<version>/bin,
# with kwok: 1.37.2 from the Go module proxy (kubesync/recipes/build-k8s-1.37) and 1.20.2 from
# Debian's source package (build-k8s-1.20). Skipped when the tests run against an existing cluster.
control-plane: venv
	@if [ -z "$$KUBESYNC_TEST_KUBECONFIG" ]; then \
	  $(BIN)/kubesync cluster build $(foreach v,$(K8S_VERSIONS),--kubernetes-version $(v)); fi

# Builds (first time only) the tools the tests use; a cached one prints "nothing to do".
tools: venv
	$(BIN)/kubesync cluster build --tools $(TEST_TOOLS)

# What `make demo` runs and nothing more: the newest control plane (and kwok), and DEMO_TOOLS.
demo-build: venv
	$(BIN)/kubesync cluster build --kubernetes-version $(DEMO_K8S) $(if $(DEMO_TOOLS),--tools $(DEMO_TOOLS))

# Debian's chromium for the dashboard's browser tests (driven by Playwright with executable_path;
# no browser download), and strace, which the credential tests trace every exec of a git fetch with.
browser:
	@missing=$$(for p in strace chromium; do command -v $$p >/dev/null || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  echo "installing from Debian: $$missing"; \
	  $$SUDO apt-get update -q >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing >/dev/null; fi

# Unit tests once, then the integration and e2e suites once per Kubernetes version (each leg
# reported on its own; a failure in any leg fails the run, after every leg has run). Against an
# existing cluster (KUBESYNC_TEST_KUBECONFIG) the suites run once, on that cluster.
test: venv tools control-plane browser
	@scripts/run-tests "$(PYTEST)" $(K8S_VERSIONS)

unit: venv tools  # the chart and kustomize tests render with the pinned helm and kustomize
	$(PYTEST) tests/unit

integration: venv tools control-plane
	@scripts/run-tests --no-unit "$(PYTEST)" $(K8S_VERSIONS)

# Builds only what it runs (Kubernetes 1.37, once, and says how long that takes first);
# KUBESYNC_DEMO_KUBECONFIG=~/.kube/config runs it on a cluster of yours with no build at all.
demo: venv
	@$(BIN)/python scripts/demo.py

bench: venv control-plane
	$(BIN)/python bench/bench.py

# The daemon at scale (issue 17): N syncs of 5 objects, API requests counted by the API server.
# Takes long at the default sizes; e.g. `make bench-daemon ARGS="--sizes 10,30 --steady 30 --failover 10"`.
bench-daemon: venv control-plane
	$(BIN)/python bench/daemon.py $(ARGS)

# What a pip user gets: the wheel in a fresh virtualenv without extras, its weight with dependencies
# (target: under 60 MB), and every command run from it against its own local control plane.
wheel: venv
	@$(BIN)/python scripts/check-wheel $(ARGS)

# deploy/image/requirements.lock: every dependency of the image pinned with its hashes, resolved from PyPI.
lock: venv
	$(BIN)/pip install -q pip-tools
	PIP_FIND_LINKS= $(BIN)/pip-compile -q --upgrade --generate-hashes --strip-extras --allow-unsafe \
	  --no-emit-index-url --no-emit-find-links --output-file deploy/image/requirements.lock pyproject.toml

# deploy/Dockerfile's image without a Docker daemon (mmdebstrap + umoci, Debian packages installed here)
# into dist/kubesync-image.oci.tar; kustomize, helm and sops come from the package's recipes (cached).
image: venv
	@command -v mmdebstrap >/dev/null && command -v umoci >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q mmdebstrap umoci >/dev/null; }
	$(BIN)/python scripts/build-image

# Runs the image's root filesystem as uid 10001 (unshare + chroot, no daemon) against a local control plane.
image-smoke: image demo-build
	$(BIN)/python scripts/smoke-image

clean:
	rm -rf $(VENV) *.egg-info dist
