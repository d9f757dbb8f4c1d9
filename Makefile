# Envoy Wasm Lab. Quick start: `make lab` (opens JupyterLab), `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
JUPYTER_ARGS ?=
# Tests that need none of these run in `make check`, in seconds.
SLOW_MARKERS := go or envoy or kube or istio or tinygo or jupyter or browser

.PHONY: lab test check run env doctor clean help cluster cluster-down cluster-binaries istio tinygo

help:
	@echo "make lab     create the environment if needed, then open JupyterLab on the notebooks"
	@echo "             (JUPYTER_ARGS=\"--port 8899\" passes arguments to jupyter lab)"
	@echo "make test    create the environment if needed, then run all tests (pytest + nbval)"
	@echo "make check   the fast tests only: no Go, Envoy or cluster (a few seconds)"
	@echo "make run     execute every notebook (exercise solutions applied) into build/ and print a table"
	@echo "make doctor  show the tools the lab uses"
	@echo "make clean   stop every process labkit started"
	@echo "make cluster start a local Kubernetes control plane (kube-apiserver + etcd + Istio CRDs)"
	@echo "make cluster-down  stop it"
	@echo "make istio   build istiod and pilot-agent from source, for notebook 07 (once)"
	@echo "make tinygo  set up TinyGo 0.33 for the TinyGo track (TINYGO_SRC=<source archive> to build it)"

$(STAMP): pyproject.toml scripts/setup-env.sh
	VENV=$(VENV) scripts/setup-env.sh
	@touch $@

env: $(STAMP)

lab: $(STAMP)
	VENV=$(VENV) scripts/lab.sh $(JUPYTER_ARGS)

# LABKIT_SOLUTIONS=1: exercise checks run the reference solutions, so nbval
# tests every notebook end to end (tests/test_exercises.py checks wrong answers).
test: $(STAMP) cluster-binaries istio tinygo
	LABKIT_SOLUTIONS=1 $(PY) -m pytest tests notebooks --nbval-lax --nbval-current-env --nbval-cell-timeout=900 $(PYTEST_ARGS)

# LABKIT_TIER=fast hides Go and Envoy from the tests (tests/conftest.py), so a
# test that needs them but lacks its marker fails here instead of passing slowly.
check: $(STAMP)
	LABKIT_TIER=fast $(PY) -m pytest tests -q -m "not ($(SLOW_MARKERS))" $(PYTEST_ARGS)

run: $(STAMP)
	$(VENV)/bin/labkit run -p solutions=true

doctor: $(STAMP)
	$(VENV)/bin/labkit doctor

clean:
	@if [ -x $(VENV)/bin/labkit ]; then $(VENV)/bin/labkit clean; fi

# kube-apiserver, kube-controller-manager and etcd, built once from pinned
# sources on the Go module proxy (about 13 minutes on 2 cores; cached per user after).
cluster-binaries: $(STAMP)
	$(VENV)/bin/labkit cluster build

# istiod (pilot-discovery) and pilot-agent from a pinned istio.io/istio, for
# notebook 07 (about 6 minutes on 2 cores; cached per user after).
istio: $(STAMP)
	$(VENV)/bin/labkit istio build

# TinyGo 0.33 for the TinyGo track (scripts/setup-tinygo.sh): the tinygo on PATH
# if it works, else built from TINYGO_SRC (TinyGo's source archive) with Debian's
# LLVM, else TinyGo's release archive. When none works it says why (exit 3) and
# the lab's TinyGo parts skip with that reason.
TINYGO_SRC ?=
tinygo: $(STAMP)
	@TINYGO_SRC="$(TINYGO_SRC)" PYTHON=$(PY) scripts/setup-tinygo.sh || [ $$? -eq 3 ]

cluster: cluster-binaries
	$(VENV)/bin/labkit cluster up

cluster-down:
	@if [ -x $(VENV)/bin/labkit ]; then $(VENV)/bin/labkit cluster down; fi
