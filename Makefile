# The two commands: `make bench` (benchmark tables on built-in data) and `make test`.
# Each installs what it needs: system libraries with apt-get when missing, Python
# dependencies in .venv, then builds the C extension (editable install).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := build-essential pkg-config python3 python3-dev python3-venv libwavpack-dev libflac-dev wavpack hdf5-tools
# Released peers, measured beside ours and used to make compatibility fixtures.
PEERS := wavpack-numcodecs==0.1.5 flac-numcodecs==0.1.2 mtscomp==1.0.2
STAMP := $(VENV)/.installed
# `make test` runs the whole suite twice: in .venv (newest zarr 3 / numcodecs) and in
# .venv-zarr2 (the zarr 2 stack of SpikeInterface, NeuroConv and hdmf-zarr, versions pinned
# in the constraints file). Tests marked for one stack are deselected in the other.
VENV2 := .venv-zarr2
PY2 := $(VENV2)/bin/python
STAMP2 := $(VENV2)/.installed
ZARR2_CONSTRAINTS := .ci/constraints-zarr2.txt

.PHONY: test bench figures sysdeps clean

test: $(STAMP) $(STAMP2)
	@rc=0; \
	echo "== zarr 3 stack ($(VENV))"; $(PY) -m pytest -q -m "not zarr2" || rc=1; \
	echo "== zarr 2 stack ($(VENV2))"; $(PY2) -m pytest -q -m "not zarr3" -p no:cacheprovider || rc=1; \
	exit $$rc

# `make bench LOSSY=1` adds the ground-truth lossy benchmark (spike sorting, in the
# SpikeInterface environment .venv-zarr2; about 20 minutes on 2 cores)
bench: $(STAMP) $(if $(LOSSY),$(STAMP2))
	$(PY) -m benchmarks.report
	$(if $(LOSSY),$(PY2) -m benchmarks.lossy)

# the README's figures (docs/figures): CR vs speed from .venv, the lossy run from .venv-zarr2
figures: $(STAMP) $(STAMP2)
	$(PY) -m benchmarks.figures cr-speed --out docs/figures
	$(PY2) -m benchmarks.figures lossy --out docs/figures

sysdeps:
	@if ! command -v $(PYTHON) >/dev/null || ! command -v cc >/dev/null || ! command -v wavpack >/dev/null \
	    || ! command -v pkg-config >/dev/null || ! pkg-config --exists wavpack flac || ! command -v h5dump >/dev/null \
	    || ! $(PYTHON) -c 'import ensurepip, os, sysconfig; assert os.path.exists(sysconfig.get_paths()["include"] + "/Python.h")' 2>/dev/null; then \
	  echo "Installing system packages: $(APT_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES); \
	fi

$(STAMP): pyproject.toml setup.py $(wildcard csrc/*.c csrc/*.h csrc/*.py csrc/hdf5/*.c csrc/hdf5/*.h) | sysdeps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench,zarr3]'
	$(PY) -m pip install -q $(PEERS) || echo "warning: peer packages did not install; peer comparisons will be missing"
	touch $(STAMP)

$(STAMP2): pyproject.toml setup.py $(ZARR2_CONSTRAINTS) $(wildcard csrc/*.c csrc/*.h csrc/*.py csrc/hdf5/*.c csrc/hdf5/*.h) | sysdeps $(STAMP)
	test -x $(PY2) || $(PYTHON) -m venv $(VENV2)
	$(PY2) -m pip install -q --upgrade pip
	$(PY2) -m pip install -q -c $(ZARR2_CONSTRAINTS) -e '.[test,bench,zarr2,sorting]'
	$(PY2) -m pip install -q -c $(ZARR2_CONSTRAINTS) $(PEERS) || echo "warning: peer packages did not install; peer comparisons will be missing"
	touch $(STAMP2)

clean:
	rm -rf $(VENV) $(VENV2) build *.egg-info numcodecs_ephys/_native*.so numcodecs_ephys/_native.c numcodecs_ephys/plugins
