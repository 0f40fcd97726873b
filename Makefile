# osc — OpenFn jobs as Kubernetes-native microservices.
# `make help` lists the targets. Every target installs what it needs itself.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TOOLS  := .tools

.DEFAULT_GOAL := help

help: ## List the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  \033[1m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

## ---- install ---------------------------------------------------------------

# Two steps: `make run` installs only what the runtime needs (requirements-runtime.lock), as fast
# as it can; `make test` adds the operator's and the tests' share (requirements.lock) to the venv.
# The venv is made without pip (ensurepip alone takes ~10 s): the runtime step uses the pip of
# $(PYTHON) (`pip --python`, pip >= 22.3) and gives the venv a pip of its own only when there is
# none; it puts runtime/ and operator/ on the venv's path with a .pth file (what an editable
# install does, without its ~10 s isolated build), and skips compiling bytecode ahead of use.
export PIP_HAS_PYTHON_OPTION = import pip, sys; sys.exit(tuple(map(int, pip.__version__.split(".")[:2])) < (22, 3))
SITE_PACKAGES = $(shell $(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "osc needs Python 3.11+"'
	@echo "==> creating the Python environment in $(VENV)"
	$(PYTHON) -m venv --without-pip $(VENV)

$(VENV)/.runtime-installed: pyproject.toml requirements-runtime.lock | $(VENV)/bin/python
	@echo "==> installing the runtime's $$(grep -c '==' requirements-runtime.lock) Python packages (requirements-runtime.lock)"
	@if $(PYTHON) -c "$$PIP_HAS_PYTHON_OPTION" 2>/dev/null; then pip="$(PYTHON) -m pip --python $(PY)"; \
	else $(PY) -m ensurepip --default-pip >/dev/null && pip="$(PY) -m pip"; fi; \
	set -x; $$pip install -q --disable-pip-version-check --no-compile --no-deps -r requirements-runtime.lock
	printf '%s\n' "$(CURDIR)/runtime" "$(CURDIR)/operator" > $(SITE_PACKAGES)/osc-source.pth
	touch $@

$(VENV)/.installed: $(VENV)/.runtime-installed requirements.lock
	@echo "==> installing pip, the operator's and the tests' Python packages (requirements.lock) and osc (editable)"
	$(PY) -m ensurepip --upgrade --default-pip >/dev/null
	$(PIP) install -q --disable-pip-version-check --upgrade pip
	$(PIP) install -q --disable-pip-version-check -r requirements.lock
	$(PIP) install -q --disable-pip-version-check --no-deps -e .
	rm -f $(SITE_PACKAGES)/osc-source.pth
	touch $@

node_modules/.installed: package.json package-lock.json
	@echo "==> installing OpenFn core and the bundled adaptors (npm ci)"
	npm ci --no-audit --no-fund --loglevel=error --prefer-offline  # the lock pins: a cached copy will do
	touch $@

install-runtime: $(VENV)/.runtime-installed node_modules/.installed ## Install what `make run` needs

install: $(VENV)/.installed node_modules/.installed ## Install everything: the runtime's, the operator's and the tests' packages, node_modules

lock: ## Re-lock the Python dependencies after editing pyproject.toml
	$(PYTHON) -m venv $(TOOLS)/uv && $(TOOLS)/uv/bin/pip install -q uv
	$(TOOLS)/uv/bin/uv pip compile --python-version 3.11 --extra operator --extra dev --extra postgres \
	  pyproject.toml -o requirements.lock
	$(TOOLS)/uv/bin/uv pip compile --python-version 3.11 --constraint requirements.lock --extra postgres \
	  pyproject.toml -o requirements-runtime.lock

## ---- run -------------------------------------------------------------------

run: ## Serve examples/hello on 127.0.0.1:8080 (no cluster needed)
	@$(MAKE) --no-print-directory -j2 install-runtime  # pip and npm side by side
	$(PY) -m osc_runtime.dev examples/hello

## ---- checks ----------------------------------------------------------------

test-tools: $(VENV)/.installed ## Install the test tools (helm, kubectl, chromium; builds the control plane once)
	$(PY) tests/tools.py install

cluster: install test-tools ## Start a local control plane (kwok node); KUBECONFIG=.tools/cluster/admin.kubeconfig
	$(PY) -m tests.cluster.controlplane up

cluster-down: $(VENV)/.installed ## Stop the local control plane and remove its data
	$(PY) -m tests.cluster.controlplane down

generate: install ## Regenerate the CRD in crds/ and charts/osc/ from the pydantic models
	$(PY) -m osc_operator.crdgen write
	$(PY) -m osc_operator.bundledgen write

verify: install ## Fail when a generated file is stale
	$(PY) -m osc_operator.crdgen verify
	$(PY) -m osc_operator.bundledgen verify

test: install test-tools verify ## Run the test suite (starts its own control plane for tests/cluster)
	$(PY) -m pytest tests --ignore=tests/images -n 2  # two workers: see tests/conftest.py

test-images: install test-tools ## Build and run the images with podman (slow; needs root)
	$(PY) -m pytest tests/images -p no:cacheprovider

bench: install test-tools ## Run the benchmarks (writes bench/results/)
	$(PY) -m bench

e2e: ## End-to-end on a kind cluster (needs Docker and kind)
	bash tests/e2e/kind.sh

clean: ## Remove installs, tools and run data
	rm -rf $(VENV) node_modules $(TOOLS) .osc-data

.PHONY: help install install-runtime lock run test-tools cluster cluster-down generate verify test test-images bench e2e clean
