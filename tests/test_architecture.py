"""docs/ARCHITECTURE.md stays true to the code: every module it names exists, and every module
and package of server/ (and gan_core's top level) is named in it."""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
TOP = ("gan_core", "server", "webui", "tests", "benchmarks", "docs")
PATH = re.compile(rf"(?:{'|'.join(TOP)})/[\w/.*{{}},-]*")
DOTTED = re.compile(r"(?:gan_core|server)(?:\.\w+)+")


def code_spans() -> list[str]:
    return re.findall(r"`([^`\n]+)`", DOC.read_text())


def expand(pattern: str) -> list[str]:
    """``a/{b,c}.py`` -> ``a/b.py``, ``a/c.py``."""
    parts = re.split(r"\{([^}]*)\}", pattern)
    choices = [[p] if i % 2 == 0 else p.split(",") for i, p in enumerate(parts)]
    return ["".join(combo) for combo in itertools.product(*choices)]


def named_paths() -> list[str]:
    return [path for span in code_spans() if PATH.fullmatch(span) for path in expand(span)]


def named_dotted() -> list[str]:
    return [span for span in code_spans() if DOTTED.fullmatch(span)]


def module_file(dotted: list[str]) -> Path | None:
    base = ROOT.joinpath(*dotted)
    if (base / "__init__.py").is_file() or (base.is_dir() and any(base.glob("*.py"))):
        return base
    return base.with_suffix(".py") if base.with_suffix(".py").is_file() else None


def top_level_names(module: Path) -> set[str]:
    tree = ast.parse(module.read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def as_path(dotted: str) -> str:
    """The repository path of the module a dotted name is in (``gan_core.metrics.fid.x`` ->
    ``gan_core/metrics/fid.py``)."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        found = module_file(parts[:end])
        if found is not None:
            relative = found.relative_to(ROOT).as_posix()
            return relative + "/" if found.is_dir() else relative
    return dotted


def test_the_page_names_modules() -> None:
    paths = named_paths()
    assert {"server/routes/runs.py", "gan_core/losses.py", "server/jobs/"} <= set(paths)
    assert "gan_core.config" in named_dotted()
    assert expand("a/{b,c}.py") == ["a/b.py", "a/c.py"]


def test_every_path_it_names_exists() -> None:
    missing = [path for path in named_paths()
               if not (any(ROOT.glob(path)) if "*" in path else (ROOT / path).exists())]
    assert missing == [], f"docs/ARCHITECTURE.md names what does not exist: {missing}"


def test_every_dotted_name_it_uses_resolves() -> None:
    """``gan_core.metrics.support`` is a module; ``gan_core.train.Command`` a name defined at
    the top of gan_core/train.py."""
    wrong = []
    for dotted in named_dotted():
        parts = dotted.split(".")
        for end in range(len(parts), 0, -1):
            module = module_file(parts[:end])
            if module is not None:
                break
        if module is None or end == 1:
            wrong.append(dotted)
        elif end < len(parts):
            source = module / "__init__.py" if module.is_dir() else module
            if not source.is_file() or parts[end] not in top_level_names(source):
                wrong.append(dotted)
    assert wrong == [], f"docs/ARCHITECTURE.md names modules or names that do not exist: {wrong}"


def named() -> set[str]:
    return set(named_paths()) | {as_path(d) for d in named_dotted()}


def test_every_server_module_and_package_is_named() -> None:
    """A new module or package under server/ gets its line in the server table."""
    server = ROOT / "server"
    expected = {p.relative_to(ROOT).as_posix() for p in server.rglob("*.py")
                if p.name != "__init__.py" and "migrations" not in p.parts}
    expected |= {d.relative_to(ROOT).as_posix() + "/" for d in server.rglob("*")
                 if d.is_dir() and any(d.glob("*.py")) and "versions" not in d.parts}
    assert "server/routes/runs.py" in expected and "server/migrations/" in expected
    assert sorted(expected - named()) == [], "add these to docs/ARCHITECTURE.md's server table"


def test_every_gan_core_module_and_package_is_named() -> None:
    core = ROOT / "gan_core"
    expected = {p.relative_to(ROOT).as_posix() for p in core.glob("*.py")
                if p.name != "__init__.py"}
    expected |= {d.relative_to(ROOT).as_posix() + "/" for d in core.iterdir()
                 if d.is_dir() and (d / "__init__.py").is_file()}
    assert sorted(expected - named()) == [], "add these to docs/ARCHITECTURE.md's gan_core table"


def test_no_route_imports_another_routes_module() -> None:
    """Routes are thin over services: what two routes share lives in a service module."""
    routes = ROOT / "server" / "routes"
    found = []
    for path in sorted(routes.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("server.routes"):
                found.append(f"{path.name} imports {node.module}")
    assert found == [], found
