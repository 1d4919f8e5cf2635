"""docs/ARCHITECTURE.md stays true to the code: every module it names exists, and every module
and package of server/ (and gan_core's top level) is named in it. And the layering it describes
holds: routes are thin over services (no route imports another, none runs SQL), and only
server/images/ sends the image process an operation by its name."""

from __future__ import annotations

import ast
import inspect
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


def _receiver(node: ast.expr) -> str:
    """The last name of what a method is called on: ``state.db`` -> ``db``."""
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def test_no_route_runs_sql() -> None:
    """A query lives in the service that owns its data (RunService, StudyStore, ...): a route
    neither imports sqlalchemy nor opens a session nor executes a statement."""
    found = []
    for path in sorted((ROOT / "server" / "routes").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            where = f"{path.name}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                found += [f"{where} imports {a.name}" for a in node.names
                          if a.name.split(".")[0] == "sqlalchemy"]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == \
                    "sqlalchemy":
                found.append(f"{where} imports {node.module}")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                name = node.func.attr
                if name == "execute" or (name in ("read", "write")
                                         and _receiver(node.func.value) == "db"):
                    found.append(f"{where} calls .{name}()")
    assert found == [], found


def image_operations() -> set[str]:
    """What the image process answers: ``ImageEngine.op_<name>``."""
    tree = ast.parse((ROOT / "server" / "images" / "engine.py").read_text())
    engine = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ImageEngine")
    return {n.name.removeprefix("op_") for n in engine.body
            if isinstance(n, ast.FunctionDef) and n.name.startswith("op_")}


def test_image_operations_are_sent_by_name_only_in_server_images() -> None:
    """Everyone else calls ImageService's typed methods (``images.pool(checkpoint=...)``): a
    misspelt operation or parameter fails where it is written, not in the image process."""
    operations = image_operations()
    assert {"render", "pool", "support_draw", "lesson_gradients"} <= operations
    images = ROOT / "server" / "images"
    found = []
    for top in (*TOP, "scripts"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if path.is_relative_to(images):
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr in ("call", "_call")):
                    continue
                first = node.args[0] if node.args else None
                if (isinstance(first, ast.Constant) and first.value in operations) or \
                        _receiver(node.func.value) == "images":
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == [], f"call the ImageService method for the operation instead: {found}"


def test_image_service_has_a_typed_method_per_operation() -> None:
    """Each with the engine's parameters and defaults, keyword-only; no public generic sender."""
    from server.images import ImageEngine, ImageService

    assert not hasattr(ImageService, "call")
    for op in sorted(image_operations()):
        method = getattr(ImageService, op, None)
        assert inspect.iscoroutinefunction(method), f"ImageService.{op} is missing"
        engine = inspect.signature(getattr(ImageEngine, f"op_{op}")).parameters
        service = inspect.signature(method).parameters
        assert {n: p.default for n, p in service.items() if n != "self"} == \
            {n: p.default for n, p in engine.items() if n != "self"}, op
        assert all(p.kind is p.KEYWORD_ONLY for n, p in service.items() if n != "self"), op
