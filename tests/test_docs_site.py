"""The documentation site: it builds with warnings as errors, its pages hold what they must,
and each page renders in a real browser.

The site is built once per session with ``mkdocs build --strict`` (the ``docs`` extra,
installed in .venv: these tests carry the ``zarr3`` marker of that stack, and are
deselected in .venv-zarr2), then served on 127.0.0.1 and opened in headless Chromium
(Debian's ``chromium`` and ``chromium-driver``, driven by selenium; no browser is
downloaded). Outside CI a missing mkdocs or browser skips; under CI=true it fails.
"""

import ast
import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import require, unavailable

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

pytestmark = pytest.mark.zarr3


def nav():
    """(title, markdown file) of each page in mkdocs.yml's nav, in order."""
    return re.findall(r"^\s*- (.+?):\s*([\w/.-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M)


def nav_pages():
    return [page for _, page in nav()]


def url_path(page):
    """Where mkdocs puts a page (directory URLs): "codecs.md" -> "codecs/"."""
    return "" if page == "index.md" else page[: -len(".md")] + "/"


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The site built with --strict into a temporary folder; its path."""
    require("mkdocs")
    require("material")
    require("mkdocstrings_handlers.python")
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if proc.returncode:
        raise AssertionError(f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}")
    return out


def test_every_page_is_in_the_nav():
    """A page left out of the nav is unreachable; a nav entry without a page breaks the build."""
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md") if "generated" not in p.parts}
    assert pages == set(nav_pages())


def test_site_builds_strict(site):
    for page in nav_pages():
        assert (site / url_path(page) / "index.html").is_file(), f"{page} was not built"


def public_names(module):
    """The names in a module's ``__all__`` (``__all__ = [...]`` and ``+= [...]``), read from its source."""
    path = ROOT / "numcodecs_ephys" / f"{module}.py"
    if not path.exists():
        path = ROOT / "numcodecs_ephys" / module / "__init__.py"
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        target = getattr(node, "target", None) or (node.targets[0] if isinstance(node, ast.Assign) else None)
        if isinstance(target, ast.Name) and target.id == "__all__":
            names += ast.literal_eval(node.value)
    return names


# 0.1.0's names of two classes, named in the page's text
ALIASES = {"WavPackLegacy", "FLACLegacy"}


@pytest.mark.parametrize(
    "page, module, qualified",
    [
        ("api/numcodecs_ephys", "__init__", "numcodecs_ephys"),
        ("api/zarr3", "zarr3", "numcodecs_ephys.zarr3"),
        ("api/hdf5", "hdf5", "numcodecs_ephys.hdf5"),
    ],
)
def test_api_reference_covers_the_public_api(site, page, module, qualified):
    """Every name of the module's __all__ has its docstring rendered by mkdocstrings."""
    html = (site / page / "index.html").read_text()
    names = public_names(module)
    assert len(names) >= 6
    for name in names:
        if module == "__init__" and name in ALIASES:
            assert f"<code>{name}</code>" in html, f"{name} is not mentioned on {page}"
        else:
            assert f'id="{qualified}.{name}"' in html, f"{qualified}.{name} is missing from {page}"
    assert "Parameters" in (site / "api/numcodecs_ephys/index.html").read_text()  # numpy sections parsed
    assert ":class:" not in html and ":func:" not in html  # the Sphinx roles were turned into code


@pytest.mark.parametrize("name", ["benchmarks.md", "lossy.md"])
def test_benchmark_tables_are_included(site, name):
    """docs/benchmarks.md includes each generated file of the benchmarks, which names the
    machine and the commit that made it."""
    html = (site / "benchmarks" / "index.html").read_text()
    generated = (DOCS / "generated" / name).read_text()
    assert re.search(r"commit `?[0-9a-f]{7,40}", generated), f"{name} names no commit"
    assert "AMD" in generated or "Intel" in generated or "cores" in generated, f"{name} names no machine"
    header = next(line for line in generated.splitlines() if line.startswith("|"))
    assert all(cell.strip() in html for cell in header.strip("|").split("|")), f"{name}'s tables are not on the page"


CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromedriver")  # Debian's chromium and chromium-driver


@pytest.fixture(scope="session")
def served(site):
    """The built site served over HTTP on 127.0.0.1; its base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium through chromedriver, keeping the pages' console messages."""
    webdriver = require("selenium.webdriver")
    binary, driver = (shutil.which(Path(p).name) or p for p in CHROMIUM)
    if not (os.access(binary, os.X_OK) and os.access(driver, os.X_OK)):
        unavailable("chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    os.environ["SE_OFFLINE"] = "true"  # selenium must never fetch a browser or a driver
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver))
    try:
        yield chrome
    finally:
        chrome.quit()


@pytest.mark.parametrize("title, page", nav())
def test_page_renders_in_chromium(served, browser, title, page):
    """The page loads with its title and the site's navigation, its images load, and the
    browser's console has no error."""
    from selenium.webdriver.common.by import By

    browser.get_log("browser")  # drop what earlier pages left
    browser.get(served + url_path(page))
    assert browser.execute_script("return document.readyState") == "complete"
    assert browser.title == ("numcodecs-ephys" if page == "index.md" else f"{title} - numcodecs-ephys")
    assert browser.find_element(By.CSS_SELECTOR, "article h1").text.strip(), f"{page}: no heading"
    links = browser.find_elements(By.CSS_SELECTOR, "nav.md-nav--primary a.md-nav__link[href]")
    targets = {link.get_attribute("href").split("#")[0] for link in links}
    assert {served + url_path(p) for p in nav_pages()} <= targets, f"{page}: the navigation misses pages"
    broken = browser.execute_script(
        "return [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
    )
    assert not broken, f"{page}: images that did not load: {broken}"
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, f"{page}: console errors: {errors}"


def test_the_browser_sees_console_errors(served, browser):
    """The check above can fail: a page that logs an error is seen as one."""
    browser.get(served)
    browser.get_log("browser")
    browser.execute_script("console.error('docs-test probe')")
    assert any("docs-test probe" in e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE")
