# calsync — one entry point for setting up, testing and running locally.
#   make test    install everything from nothing, lint, type-check, run unit + integration tests
#   make demo    start the local stack, send a day of EHR changes through it, print the calendars, clean up
#   make serve   start the local stack and leave it running (prints URLs and credentials)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON313 := $(shell scripts/find-python 2>/dev/null)
VENV := .venv
PY := $(VENV)/bin/python
SAMVENV := .venv-sam
VDIRVENV := .venv-vdirsyncer
AWSVENV := .venv-awscli
NODE_DIR := devstack/node
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1
export PYTHONPATH := $(CURDIR)/layers/common:$(CURDIR)

# Runs a command in a private network namespace that has only loopback: proves nothing leaves the machine.
ISOLATED := unshare --net bash -c 'ip link set lo up && exec "$$0" "$$@"'

.PHONY: help
help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

# $(call venv,DIR,REQUIREMENTS): a Python 3.13 venv built from nothing, rebuilt when its requirements change
define venv
$(1)/.stamp: $(2)
	@test -n "$$(PYTHON313)" || { echo "Python 3.13 not found: set PYTHON=/path/to/python3.13" >&2; exit 1; }
	rm -rf $(1)
	$$(PYTHON313) -m venv $(1)
	$(1)/bin/pip install --quiet --upgrade pip
	$(1)/bin/pip install --quiet -r $(2)
	touch $$@
endef
$(eval $(call venv,$(VENV),requirements-dev.txt))
$(VENV)/.stamp: layers/common/requirements.txt requirements-cli.txt  # requirements-dev.txt includes them

# The project itself, editable, into the dev venv: the `calsync` operator command (pyproject [project.scripts]).
$(VENV)/.project: $(VENV)/.stamp pyproject.toml
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@
$(eval $(call venv,$(VDIRVENV),requirements-vdirsyncer.txt))
$(eval $(call venv,$(SAMVENV),requirements-sam.txt))
$(eval $(call venv,$(AWSVENV),requirements-awscli.txt))

$(NODE_DIR)/.stamp: $(NODE_DIR)/package.json
	cd $(NODE_DIR) && npm install --silent --no-audit --no-fund
	touch $@

# Headless Chromium for the connect page's browser tests: Debian's package (Playwright drives it; no browser
# is downloaded). Installed with apt-get when missing.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	command -v apt-get >/dev/null || { echo "chromium is missing and apt-get is not available" >&2; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

.PHONY: install
install: $(VENV)/.project $(NODE_DIR)/.stamp $(VDIRVENV)/.stamp $(AWSVENV)/.stamp $(CHROMIUM) ## install the dev venv (with the calsync command), DynamoDB Local, axe-core, vdirsyncer, the AWS CLI and Chromium

.PHONY: lint
lint: $(VENV)/.project ## ruff, mypy --strict and the layer rules (import contracts in pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy layers/common/calsync functions devstack tests bench
	$(VENV)/bin/lint-imports --no-cache

.PHONY: schema
schema: $(VENV)/.stamp ## regenerate schemas/ from the pydantic contract
	$(PY) -m calsync.cli.schema > /dev/null

.PHONY: openapi
openapi: $(VENV)/.stamp ## regenerate docs/integration-api.openapi.json from the integration API's code
	$(PY) -m functions.integration_api.app > docs/integration-api.openapi.json

.PHONY: screenshots
screenshots: install ## drive the connect page in Chromium and save each step to docs/screenshots/
	$(ISOLATED) env CALSYNC_SCREENSHOTS=$(CURDIR)/docs/screenshots $(PY) -m pytest tests/browser -q

.PHONY: unit
unit: $(VENV)/.project $(SAMVENV)/.stamp  # the template tests translate template.yaml with the SAM venv's translator
	$(ISOLATED) $(PY) -m pytest tests/unit tests/infrastructure -q

.PHONY: integration
integration: install
	$(ISOLATED) $(PY) -m pytest tests/integration tests/browser -q

.PHONY: test
test: install lint validate ## install from nothing, lint, validate the template, run every test (no network)
	$(ISOLATED) $(PY) -m pytest -q -m "not slow"

.PHONY: validate
validate: $(SAMVENV)/.stamp ## sam validate --lint and cfn-lint on template.yaml
	$(SAMVENV)/bin/sam validate --lint --template template.yaml
	$(SAMVENV)/bin/cfn-lint template.yaml

.PHONY: build
build: $(SAMVENV)/.stamp ## sam build (needs Python 3.13 on PATH; the layer is cross-built for arm64)
	PATH="$(dir $(PYTHON313)):$$PATH" $(SAMVENV)/bin/sam build --template template.yaml

.PHONY: demo
demo: install ## local stack + a realistic day of EHR changes flowing into real calendars
	$(ISOLATED) $(PY) -m devstack.demo

.PHONY: serve
serve: install ## run the whole deployment locally until Ctrl-C, printing every URL and credential (SERVE_ARGS=--help)
	$(PY) -m devstack.serve $(SERVE_ARGS)

.PHONY: bench
bench: install ## print cold-start, per-change and feed figures
	$(ISOLATED) $(PY) -m bench.run_all

.PHONY: clean
clean:
	rm -rf $(VENV) $(SAMVENV) $(VDIRVENV) $(AWSVENV) $(NODE_DIR)/node_modules $(NODE_DIR)/.stamp .aws-sam .devstack .mypy_cache .ruff_cache .pytest_cache
