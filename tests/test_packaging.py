"""`pip install ganscope` gives gan_core and its CLI; the server comes with the `server` extra.

Checked two ways: pyproject's lists (every package a module imports is one the install that
needs it declares), and a fresh interpreter in which the server's packages cannot be imported,
where gan_core imports whole, `ganscope train` trains, and `ganscope serve` says what to install.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from server.cli import SERVER_PACKAGES

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
FIRST_PARTY = {"gan_core", "server", "webui"}
# the server extra's packages, refused in the subprocesses below
BLOCKED = sorted(SERVER_PACKAGES)

BLOCKER = f"""
import sys

BLOCKED = {BLOCKED!r}


class WithoutTheServerExtra:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


assert not [m for m in sys.modules if m.split(".")[0] in BLOCKED], "imported too early"
sys.meta_path.insert(0, WithoutTheServerExtra())
"""


def distribution(requirement: str) -> str:
    name = re.match(r"[A-Za-z0-9._-]+", requirement).group(0)  # type: ignore[union-attr]
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(*extras: str) -> set[str]:
    requirements = list(PROJECT["dependencies"])
    for extra in extras:
        requirements += PROJECT["optional-dependencies"][extra]
    return {distribution(r) for r in requirements}


def imported_distributions(package: str) -> dict[str, str]:
    """Third-party import name -> the installed distribution that provides it, for every
    import in ``package``'s modules (at the top or inside a function)."""
    names: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    names -= set(sys.stdlib_module_names) | FIRST_PARTY
    providers = importlib.metadata.packages_distributions()
    return {name: distribution(providers[name][0]) for name in sorted(names)}


def test_gan_core_needs_only_the_core_install() -> None:
    core = declared()
    used = imported_distributions("gan_core")
    assert {"torch", "torchvision", "safetensors", "pydantic"} <= set(used.values())
    assert {name: dist for name, dist in used.items() if dist not in core} == {}
    server_only = declared("server") - core
    assert {"fastapi", "sqlalchemy", "plotly", "uvicorn"} <= server_only
    assert not server_only & core


def test_the_cli_knows_the_server_extras_packages() -> None:
    """What `ganscope serve` and the others treat as "the server extra is missing"."""
    extra = declared("server") - declared()
    provided = {name for name, dists in importlib.metadata.packages_distributions().items()
                if not name.startswith("_") and any(distribution(d) in extra for d in dists)}
    assert provided == SERVER_PACKAGES


def test_the_server_extra_declares_what_the_server_imports() -> None:
    available = declared("server", "postgres", "ray")
    used = imported_distributions("server")
    assert {name: dist for name, dist in used.items() if dist not in available} == {}


def run_without_the_server_extra(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    script = tmp_path / "without_server.py"
    script.write_text(BLOCKER + code)
    return subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_gan_core_and_its_cli_work_without_the_server_extra(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = run_without_the_server_extra(f"""
import importlib, json, pkgutil

import gan_core
modules = [m.name for m in pkgutil.walk_packages(gan_core.__path__, "gan_core.")]
for name in modules:
    importlib.import_module(name)

from server.cli import main  # the `ganscope` entry point

codes = {{"presets": main(["presets"]), "schema": main(["schema"]),
         "train": main(["train", "--preset", "ring8-gan", "--steps", "10", "--quiet",
                        "--set", "train.report_every=5", "--out", {str(out)!r}])}}
leaked = sorted({{m.split(".")[0] for m in sys.modules}} & set(BLOCKED))
print(json.dumps({{"modules": modules, "codes": codes, "leaked": leaked}}))
""", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"gan_core.train", "gan_core.losses", "gan_core.metrics.fid"} <= set(report["modules"])
    assert report["codes"] == {"presets": 0, "schema": 0, "train": 0}
    assert report["leaked"] == []
    stats = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    assert [row["step"] for row in stats] == [5, 10]
    assert list((out / "checkpoints").glob("ckpt_*.safetensors"))


@pytest.mark.parametrize("args", [["serve", "--port", "8123"], ["import", "some/run"],
                                  ["db", "status"]])
def test_server_commands_say_to_install_the_server_extra(tmp_path: Path,
                                                         args: list[str]) -> None:
    done = run_without_the_server_extra(f"""
from server.cli import main

sys.exit(main({args!r}))
""", tmp_path)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "pip install 'ganscope[server]'" in done.stderr
    assert f"`ganscope {args[0]}` needs the server's packages" in done.stderr
    assert "Traceback" not in done.stderr
