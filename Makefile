# Envoy Wasm Lab. Quick start: `make lab` (opens JupyterLab), `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: lab test run env doctor clean help cluster cluster-down cluster-binaries

help:
	@echo "make lab     create the environment if needed, then open JupyterLab on the notebooks"
	@echo "make test    create the environment if needed, then run all tests (pytest + nbval)"
	@echo "make run     execute every notebook (exercise solutions applied) into build/ and print a table"
	@echo "make doctor  show the tools the lab uses"
	@echo "make clean   stop every process labkit started"
	@echo "make cluster start a local Kubernetes control plane (kube-apiserver + etcd + Istio CRDs)"
	@echo "make cluster-down  stop it"

$(STAMP): pyproject.toml scripts/setup-env.sh
	VENV=$(VENV) scripts/setup-env.sh
	@touch $@

env: $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ip 127.0.0.1 --notebook-dir notebooks

# LABKIT_SOLUTIONS=1: exercise checks run the reference solutions, so nbval
# tests every notebook end to end (tests/test_exercises.py checks wrong answers).
test: $(STAMP) cluster-binaries
	LABKIT_SOLUTIONS=1 $(PY) -m pytest tests notebooks --nbval-lax --nbval-current-env --nbval-cell-timeout=900 $(PYTEST_ARGS)

run: $(STAMP)
	$(VENV)/bin/labkit run -p solutions=true

doctor: $(STAMP)
	$(VENV)/bin/labkit doctor

clean:
	@if [ -x $(VENV)/bin/labkit ]; then $(VENV)/bin/labkit clean; fi

# kube-apiserver, kube-controller-manager and etcd, built once from pinned
# sources on the Go module proxy (about 13 minutes on 2 cores; cached after).
cluster-binaries: $(STAMP)
	$(VENV)/bin/labkit cluster build

cluster: cluster-binaries
	$(VENV)/bin/labkit cluster up

cluster-down:
	@if [ -x $(VENV)/bin/labkit ]; then $(VENV)/bin/labkit cluster down; fi
