# osc — OpenFn jobs as Kubernetes-native microservices.
# `make help` lists the targets. Every target installs what it needs itself.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
TOOLS  := .tools

.DEFAULT_GOAL := help

help: ## List the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  \033[1m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

## ---- install ---------------------------------------------------------------

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "osc needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.lock
	$(PIP) install -q --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed ## Install Python and Node dependencies (venv + npm ci)

lock: ## Re-lock the Python dependencies after editing pyproject.toml
	$(PYTHON) -m venv $(TOOLS)/uv && $(TOOLS)/uv/bin/pip install -q uv
	$(TOOLS)/uv/bin/uv pip compile --python-version 3.11 --extra dev pyproject.toml -o requirements.lock

## ---- run -------------------------------------------------------------------

run: install ## Serve examples/hello on 127.0.0.1:8080 (no cluster needed)
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
	$(PY) -m pytest tests --ignore=tests/images

test-images: install test-tools ## Build and run the images with podman (slow; needs root)
	$(PY) -m pytest tests/images -p no:cacheprovider

bench: install test-tools ## Run the benchmarks (writes bench/results/)
	$(PY) -m bench

e2e: ## End-to-end on a kind cluster (needs Docker and kind)
	bash tests/e2e/kind.sh

clean: ## Remove installs, tools and run data
	rm -rf $(VENV) node_modules $(TOOLS) .osc-data

.PHONY: help install lock run test-tools cluster cluster-down generate verify test test-images bench e2e clean
