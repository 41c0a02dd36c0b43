"""No import cycles inside clipviz/: imports point one way, so every module can be read and changed alone.

The walk reads the source with `ast`, so it sees every import statement wherever it stands: at the
top of a module, inside a function (a late import that hides a cycle from Python still counts), or
under `if TYPE_CHECKING:`. Imports built at run time (importlib.import_module(f"...")) are not seen.
"""
import ast
import pathlib
import textwrap

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "clipviz"


def modules(root: pathlib.Path) -> dict[str, pathlib.Path]:
    """{dotted name: file} of every module in the package folder `root`; a package is named by its __init__.py."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _ancestors(name: str) -> set[str]:
    """The packages Python imports before module `name`: "a.b.c" -> {"a", "a.b"}."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def imported_by(name: str, path: pathlib.Path, known: set[str]) -> set[str]:
    """The modules of `known` that module `name` (its source at `path`) imports.

    `from X import a` imports the submodule X.a when there is one, else X itself (a module, or a
    package's __init__ for a name defined there); it imports the package X's __init__ as well, unless X
    is one of `name`'s own parent packages, which Python has loaded before `name` anyway.
    `import X.Y` imports X.Y, and X unless X is a parent package of `name`.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = alias.name
                found.add(target)
                found.update(_ancestors(target) - _ancestors(name))
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: one dot is this module's package, each further dot one package up
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.update(_ancestors(base) - _ancestors(name))
            for alias in node.names:
                if f"{base}.{alias.name}" in known:  # a submodule
                    found.add(f"{base}.{alias.name}")
                    if base not in _ancestors(name):
                        found.add(base)
                else:  # a name defined in base
                    found.add(base)
    return {target for target in found if target in known and target != name}


def import_graph(root: pathlib.Path) -> dict[str, set[str]]:
    """{module: the modules it imports} for the package folder `root`."""
    files = modules(root)
    return {name: imported_by(name, path, set(files)) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle [a, b, ..., a] through each group of modules that import one another in a circle."""
    # 1) the groups: strongly connected components (Tarjan), those with more than one module
    order, low, stack, groups = {}, {}, [], []

    def visit(v):
        order[v] = low[v] = len(order)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in order:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], order[w])
        if low[v] == order[v]:
            group = stack[stack.index(v):]
            del stack[stack.index(v):]
            if len(group) > 1 or v in graph.get(v, ()):
                groups.append(set(group))

    for v in sorted(graph):
        if v not in order:
            visit(v)
    # 2) in each group, the shortest way from its first module back to itself (breadth first)
    found = []
    for group in groups:
        start = min(group)
        paths, queue = {start: [start]}, [start]
        for v in queue:
            if start in graph[v]:
                found.append(paths[v] + [start])
                break
            for w in sorted(graph[v] & group):
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    queue.append(w)
    return sorted(found)


def test_clipviz_has_no_import_cycles():
    graph = import_graph(PACKAGE)
    assert {"clipviz", "clipviz.data", "clipviz.captions", "clipviz.train", "clipviz.train_gpu"} <= set(graph)
    found = cycles(graph)
    assert not found, "import cycles in clipviz/ (make imports point one way):\n" + "\n".join(
        " -> ".join(cycle) for cycle in found)


def test_cycles_are_found_in_a_graph():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}) == [["a", "b", "a"], ["c", "d", "c"]]
    assert cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def _package(root: pathlib.Path, files: dict[str, str]) -> pathlib.Path:
    for name, source in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(source))
    return root / "pkg"


def test_the_walk_sees_late_relative_and_package_imports(tmp_path):
    """Each cycle here hides from a simpler walk: a function-level import, `from . import x`, `import pkg.x`,
    and a package's __init__."""
    pkg = _package(tmp_path, {
        "pkg/__init__.py": "from .a import A\n",
        "pkg/a.py": "from .b import B\nA = 1\n",
        "pkg/b.py": "B = 2\ndef late():\n    from .a import A\n    return A\n",  # a <-> b, one import in a function
        "pkg/c.py": "from . import d\n",  # the submodule pkg.d
        "pkg/d.py": "import pkg.e\n",
        "pkg/e.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import C\n",
        "pkg/f.py": "from .sub import thing\n",  # sub's __init__
        "pkg/sub/__init__.py": "from ..f import F\nthing = 3\n",
        "pkg/g.py": "from . import A\n",  # pkg's __init__, which does not import g: no cycle
    })
    graph = import_graph(pkg)
    assert graph["pkg.b"] == {"pkg.a"} and graph["pkg.c"] == {"pkg.d"} and graph["pkg.g"] == {"pkg"}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.a"], ["pkg.c", "pkg.d", "pkg.e", "pkg.c"],
                             ["pkg.f", "pkg.sub", "pkg.f"]]


def test_a_module_may_import_its_own_packages_submodules(tmp_path):
    """sub/__init__ imports inner, and inner takes a sibling with `from . import helper`: that is no cycle,
    since Python loads the package sub before inner in any case."""
    pkg = _package(tmp_path, {
        "pkg/__init__.py": "from .sub import X\n",
        "pkg/sub/__init__.py": "from .inner import X\n",
        "pkg/sub/inner.py": "from . import helper\nfrom ..sub import helper as again\nX = helper.Y\n",
        "pkg/sub/helper.py": "Y = 1\n",
    })
    graph = import_graph(pkg)
    assert graph["pkg.sub.inner"] == {"pkg.sub.helper"}
    assert cycles(graph) == []
