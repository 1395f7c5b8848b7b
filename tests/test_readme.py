"""Runs the README's python blocks that are marked for testing.

A block preceded by ``<!-- readme-test: zarr2 -->`` (or ``zarr3``, or ``any``) runs in a
fresh interpreter in a temporary directory, in the environment(s) that the marker names
(pytest markers: deselected in the other environment). ``path/to/run_g0`` stands for a
SpikeGLX folder and is replaced by a real one.
"""

import re
from pathlib import Path

import pytest

from conftest import fresh_python
from writers import spikeglx_folder

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"<!-- readme-test: (\w+) -->\s*```python\n(.*?)```", re.S)


def blocks():
    text = README.read_text()
    out = []
    for m in BLOCK.finditer(text):
        stack, code = m.group(1), m.group(2)
        line = text[: m.start()].count("\n") + 1
        marks = [] if stack == "any" else [getattr(pytest.mark, stack)]
        out.append(pytest.param(code, id=f"line{line}-{stack}", marks=marks))
    return out


def test_readme_has_tested_blocks():
    stacks = [m.group(1) for m in BLOCK.finditer(README.read_text())]
    assert stacks.count("zarr2") >= 4 and stacks.count("zarr3") >= 1


@pytest.mark.parametrize("code", blocks())
def test_readme_block(tmp_path, code):
    if "path/to/run_g0" in code:
        code = code.replace("path/to/run_g0", str(spikeglx_folder("np_ultra")))
    fresh_python(code, cwd=tmp_path, timeout=300)
