"""The run folder's layout and its one atomic write (gan_core/run_dir.py), and that no other
module spells a run file's name or writes a file atomically by hand."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest

import gan_core
import server
from gan_core.run_dir import RunDir, atomic_path, write_atomic

PACKAGES = [Path(gan_core.__file__).parent, Path(server.__file__).parent]
HOME = Path(gan_core.__file__).parent / "run_dir.py"


def test_file_names_are_relative_paths_with_nine_digit_steps() -> None:
    assert RunDir.file_name("sample", 1000) == "samples/grid_000001000.png"
    assert RunDir.file_name("view", 5) == "views/view_000000005.json"
    assert RunDir.checkpoint_name(12000) == "checkpoints/ckpt_000012000.safetensors"
    run = RunDir("/runs/x")
    assert run.checkpoint(7) == Path("/runs/x/checkpoints/ckpt_000000007.safetensors")
    assert (run.config.name, run.stats.name, run.events.name) == (
        "config.json", "stats.jsonl", "events.jsonl")
    for kind in RunDir.PER_STEP:
        assert RunDir.step_of(kind, RunDir.file_name(kind, 123)) == 123
    assert RunDir.step_of("sample", "grid_12ab.png") is None
    assert RunDir.step_of("sample", "view_000000001.json") is None


def test_files_lists_steps_in_order_and_skips_strays(tmp_path: Path) -> None:
    run = RunDir(tmp_path).make()
    for step in (300, 20, 1000):
        write_atomic(run.file("sample", step), b"png")
    (tmp_path / "samples" / ".tmp-grid_000000400.png.abc").write_bytes(b"half")
    (tmp_path / "samples" / "grid_notes.png").write_bytes(b"?")
    assert [step for step, _ in run.files("sample")] == [20, 300, 1000]
    assert run.files("checkpoint") == []


def test_write_atomic_replaces_whole_files_and_leaves_nothing_on_error(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "config.json"
    write_atomic(target, "first")
    write_atomic(target, "second, longer")
    assert target.read_text() == "second, longer"
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half of a thi")
        raise RuntimeError("the writer crashed")
    assert target.read_text() == "second, longer"  # the old file, whole
    assert sorted(p.name for p in target.parent.iterdir()) == ["config.json"]


def _sources() -> list[tuple[str, str]]:
    out = []
    for package in PACKAGES:
        for path in sorted(package.rglob("*.py")):
            if path == HOME or "migrations" in path.parts:
                continue
            out.append((f"{package.name}/{path.relative_to(package)}", path.read_text()))
    return out


def test_no_other_module_replaces_files_by_hand() -> None:
    found = [name for name, text in _sources() if "os.replace(" in text or ".rename(" in text]
    assert not found, f"write through gan_core.run_dir.write_atomic/atomic_path in: {found}"


# a run file's name: a per-step file's prefix followed by digits or a format field
PER_STEP_NAME = re.compile(r"(grid|view|ckpt)_(\{|\d|\*)")


def test_no_other_module_spells_a_run_files_name() -> None:
    found = []
    for name, text in _sources():
        tree = ast.parse(text)
        # docstrings may describe the layout; code takes it from RunDir
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(getattr(node, "body", None), list) and node.body
                      and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in docstrings
                    and (PER_STEP_NAME.search(node.value)
                         or node.value in (RunDir.CONFIG, RunDir.STATS, RunDir.EVENTS))):
                found.append(f"{name}:{node.lineno}: {node.value!r}")
    assert not found, "use gan_core.run_dir.RunDir instead of:\n" + "\n".join(found)


def test_the_atomic_write_leaves_the_folder_readable_by_others(tmp_path: Path) -> None:
    path = write_atomic(tmp_path / "views" / "view_000000001.json", b"{}")
    assert os.access(path, os.R_OK) and path.read_bytes() == b"{}"
