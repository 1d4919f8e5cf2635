"""Run statuses are spelled once, in gan_core/status.py: a status written as a bare string in
the server package, the trainer and its CLI, or the web UI's scripts, templates and styles
fails here, so a new rule uses RunStatus and its sets (served to the UI by /api/registry)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import gan_core
import server
import webui
from gan_core.status import STATUSES

SERVER = Path(server.__file__).parent
GAN_CORE = Path(gan_core.__file__).parent
WEBUI = Path(webui.__file__).parent
# the divergence check of the health panel is about that one status
WEBUI_ALLOWED = {("static/js/health.js", "diverged")}
# a status as a quoted string (JS, HTML attribute) or an attribute selector's value (CSS)
QUOTED = re.compile("[\"'`](" + "|".join(STATUSES) + ")[\"'`]")
# the migrations are frozen history; the image service's "stopped" is its own error kind
ALLOWED = {("images/service.py", "stopped")}


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


def test_the_trainer_and_its_cli_spell_no_status() -> None:
    found = [f"{name}:{line}: {value!r}" for name in ("train.py", "cli.py", "events.py")
             for line, value in bare_statuses(ast.parse((GAN_CORE / name).read_text()))]
    assert not found, "use gan_core.status.RunStatus instead of:\n" + "\n".join(found)


def quoted_statuses(text: str) -> list[tuple[int, str]]:
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in QUOTED.finditer(text)]


def test_the_web_ui_spells_no_status_of_its_own() -> None:
    found = []
    for path in sorted([*WEBUI.glob("static/js/*.js"), *WEBUI.glob("templates/*.html"),
                        *WEBUI.glob("static/css/*.css")]):
        relative = path.relative_to(WEBUI).as_posix()
        found += [f"{relative}:{line}: {value!r}"
                  for line, value in quoted_statuses(path.read_text())
                  if (relative, value) not in WEBUI_ALLOWED]
    assert not found, ("take the statuses and their rules from api.js (statusRules, "
                       "RUN_STATUSES) instead of:\n" + "\n".join(found))


def test_a_quoted_status_is_found() -> None:
    text = 'const A = new Set(["failed",\n  "diverged"]);\n.status[data-status="paused"] {}'
    assert quoted_statuses(text) == [(1, "failed"), (2, "diverged"), (3, "paused")]
    assert quoted_statuses("the run is running; stopped by request") == []


def test_the_web_ui_switches_on_no_loss_name() -> None:
    """Charts and health checks read a loss's ``d_output`` from /api/registry (api.js dOutput);
    the lesson page's own curves are named after the losses it trains, on the server."""
    from gan_core.losses import LOSSES

    quoted = re.compile("[\"'`](" + "|".join(LOSSES.names()) + ")[\"'`]")
    allowed = {("run_charts.js", "wasserstein")}  # the Wasserstein estimate's chart, by its id
    found = [f"{path.name}: {m.group(1)!r}" for path in sorted(WEBUI.glob("static/js/*.js"))
             if path.name != "lesson_divergences.js" for m in quoted.finditer(path.read_text())
             if (path.name, m.group(1)) not in allowed]
    assert not found, "use dOutput(loss) from api.js instead of:\n" + "\n".join(found)
