# The two commands: `make bench` (benchmark tables on built-in data) and `make test`.
# Each installs what it needs: system libraries with apt-get when missing, Python
# dependencies in .venv, then builds the C extension (editable install).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := build-essential pkg-config python3 python3-dev python3-venv libwavpack-dev libflac-dev wavpack
# Released peers, measured beside ours and used to make compatibility fixtures.
PEERS := wavpack-numcodecs==0.1.5 flac-numcodecs==0.1.2
STAMP := $(VENV)/.installed

.PHONY: test bench sysdeps clean

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m benchmarks.report

sysdeps:
	@if ! command -v $(PYTHON) >/dev/null || ! command -v cc >/dev/null || ! command -v wavpack >/dev/null \
	    || ! command -v pkg-config >/dev/null || ! pkg-config --exists wavpack flac \
	    || ! $(PYTHON) -c 'import ensurepip, os, sysconfig; assert os.path.exists(sysconfig.get_paths()["include"] + "/Python.h")' 2>/dev/null; then \
	  echo "Installing system packages: $(APT_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES); \
	fi

$(STAMP): pyproject.toml setup.py $(wildcard csrc/*.c csrc/*.h csrc/*.py) | sysdeps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	$(PY) -m pip install -q $(PEERS) || echo "warning: peer packages did not install; peer comparisons will be missing"
	touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info numcodecs_ephys/_native*.so numcodecs_ephys/_native.c
