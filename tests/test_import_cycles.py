"""No import cycle in the package or the benchmarks, read from the source with ast.

Every import statement counts, wherever it is: at module level, inside a function, under
try or if. An import deferred into a function still makes the two modules depend on each
other; it only hides the cycle from the interpreter. What does not count is the import of a
package's __init__ that Python performs before any of its submodules: that one is implied by
the layout (a submodule always belongs to its package), not chosen by the code, and counting
it would make every package whose __init__ re-exports its submodules a cycle. An explicit
import of a package (``from .. import zarr3``, ``from .. import __version__``) counts as an
import of that package's __init__ unless it names a submodule."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("numcodecs_ephys", "benchmarks")


def module_names():
    """module name -> (path, is a package __init__)."""
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            is_init = parts[-1] == "__init__"
            out[".".join(parts[:-1] if is_init else parts)] = (path, is_init)
    return out


def imports(name, path, is_init, modules):
    """The modules of `modules` that the file imports (see the module docstring)."""
    package = name if is_init else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        # modules of neither folder (other packages, the compiled _native) are left out
        found.update(t for t in targets if t in modules and t != name)
    return found


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def import_graph():
    modules = module_names()
    return {name: imports(name, path, is_init, modules) for name, (path, is_init) in modules.items()}


def test_the_graph_is_read():
    """The reader sees imports of every kind (guards against a reader that sees none)."""
    graph = import_graph()
    assert "numcodecs_ephys._container" in graph["numcodecs_ephys._codec_base"]  # from . import x
    assert "numcodecs_ephys.hdf5._filters" in graph["numcodecs_ephys.hdf5._kerchunk"]  # from .x import y
    assert "numcodecs_ephys.hdf5._kerchunk" in graph["numcodecs_ephys.hdf5"]  # inside a function
    assert "numcodecs_ephys.zarr3" in graph["numcodecs_ephys.recordings.stores"]  # from .. import x, in a function
    assert "numcodecs_ephys" in graph["benchmarks.report"]  # import a package
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)
