"""Run statuses are spelled once, in gan_core/status.py: a status written as a bare string in
the server package fails here, so a new rule uses RunStatus and its sets instead."""

from __future__ import annotations

import ast
from pathlib import Path

import server
from gan_core.status import STATUSES

SERVER = Path(server.__file__).parent
# the migrations are frozen history; the image service's "stopped" is its own error kind
ALLOWED = {("inference.py", "stopped")}


def bare_statuses(tree: ast.AST) -> list[tuple[int, str]]:
    """Status strings in ``tree`` other than docstrings and dict keys (a response field such as
    ``{"queued": [...]}`` or ``{"completed": 3}`` names a field, not a status)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            skip.update(id(key) for key in node.keys if key is not None)
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)):
            skip.add(id(body[0].value))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in STATUSES and id(node) not in skip]


def test_the_server_spells_no_status_of_its_own() -> None:
    found = []
    for path in sorted(SERVER.rglob("*.py")):
        relative = path.relative_to(SERVER)
        if relative.parts[0] == "migrations":
            continue
        found += [f"{relative}:{line}: {value!r}"
                  for line, value in bare_statuses(ast.parse(path.read_text()))
                  if (str(relative), value) not in ALLOWED]
    assert not found, "use gan_core.status.RunStatus (or its sets) instead of:\n" + "\n".join(found)


def test_a_bare_status_is_found() -> None:
    source = 'if run.status in ("queued", "running"):\n    describe({"queued": 1})\n'
    assert bare_statuses(ast.parse(source)) == [(1, "queued"), (1, "running")]
