"""Every python block of the README and of the docs pages runs, and so do the marked shell blocks.

The blocks of one page run in order in one fresh interpreter (with the peer packages
blocked: what a page shows must work with numcodecs-ephys alone), in a temporary
directory, sharing their variables as a reader of the page would. A block preceded by
``<!-- test: zarr2 -->`` or ``<!-- test: zarr3 -->`` runs only in that stack (.venv-zarr2
or .venv, through the pytest markers); other python blocks run in both. A ``bash`` block
preceded by ``<!-- test: shell -->`` runs with bash (-e, -o pipefail), in the .venv stack,
with the environment's scripts on PATH. ``path/to/run_g0`` stands for a SpikeGLX folder
and is replaced by a real one.
"""

import json
import re
from pathlib import Path

import pytest

from conftest import fresh_python
from writers import spikeglx_folder

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted(p for p in (ROOT / "docs").rglob("*.md") if "generated" not in p.parts)
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
MARK = re.compile(r"<!-- test: (zarr2|zarr3|shell) -->\s*$")

# Runs the blocks given as JSON in argv[1]: python blocks exec'd in one namespace (tracebacks
# name the page and line), shell blocks through bash; stops at the first failure.
DRIVER = """
import json, os, subprocess, sys
blocks = json.loads(sys.argv[1])
namespace = {"__name__": "__main__"}
env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
for kind, where, code in blocks:
    print(f"== {where}", flush=True)
    if kind == "python":
        exec(compile(code, where, "exec"), namespace)
    else:
        proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", code], env=env)
        if proc.returncode:
            sys.exit(f"{where}: the shell block exited with status {proc.returncode}")
"""


def page_blocks(page):
    """(language, mark or None, line, code) of each fenced block of a page, in order."""
    text = page.read_text()
    out = []
    for m in FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = MARK.search(before)
        out.append((m.group(1), mark.group(1) if mark else None, text[: m.start()].count("\n") + 1, m.group(2)))
    return out


def runnable(page, stack):
    """The blocks of a page that run in a stack ("zarr2" or "zarr3"), as the driver takes them."""
    name = page.relative_to(ROOT)
    out = []
    for lang, mark, line, code in page_blocks(page):
        where = f"{name}:{line}"
        if lang == "python" and mark in (None, stack):
            out.append(("python", where, code))
        elif mark == "shell" and stack == "zarr3":
            out.append(("shell", where, code))
    return out


def cases():
    out = []
    for page in PAGES:
        for stack in ("zarr2", "zarr3"):
            if runnable(page, stack):
                name = page.relative_to(ROOT)
                out.append(pytest.param(page, stack, id=f"{name}-{stack}", marks=getattr(pytest.mark, stack)))
    return out


def test_every_block_is_run_or_is_a_command_to_show():
    """A python block always runs; a marked block must be python (zarr2/zarr3) or bash (shell);
    shell blocks without the mark are commands that install or set up (pip, make, apt-get)."""
    for page in PAGES:
        for lang, mark, line, _ in page_blocks(page):
            where = f"{page.relative_to(ROOT)}:{line}"
            assert lang, f"{where}: a fenced block without a language"
            if mark == "shell":
                assert lang == "bash", f"{where}: a shell mark on a {lang} block"
            elif mark:
                assert lang == "python", f"{where}: a {mark} mark on a {lang} block"
    counts = {s: sum(len(runnable(p, s)) for p in PAGES) for s in ("zarr2", "zarr3")}
    assert counts["zarr2"] >= 10 and counts["zarr3"] >= 10, counts


@pytest.mark.parametrize("page, stack", cases())
def test_page_examples(tmp_path, page, stack):
    blocks = runnable(page, stack)
    if any("path/to/run_g0" in code for _, _, code in blocks):
        folder = str(spikeglx_folder("np_ultra"))
        blocks = [(k, w, code.replace("path/to/run_g0", folder)) for k, w, code in blocks]
    fresh_python(DRIVER, json.dumps(blocks), cwd=tmp_path, timeout=900)


def test_the_driver_fails_on_a_failing_block(tmp_path):
    """The runner itself: a failing python or shell block fails the page."""
    with pytest.raises(AssertionError, match="page.md:3"):
        fresh_python(DRIVER, json.dumps([("python", "page.md:3", "assert 1 == 2\n")]), cwd=tmp_path)
    with pytest.raises(AssertionError, match="page.md:9: the shell block exited with status 1"):
        fresh_python(DRIVER, json.dumps([("shell", "page.md:9", "true\nfalse\ntrue\n")]), cwd=tmp_path)
