"""Builds the C extension numcodecs_ephys._native with cffi (see csrc/build_native.py)."""
from setuptools import setup

setup(cffi_modules=["csrc/build_native.py:ffibuilder"])
