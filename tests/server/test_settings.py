"""Settings: safe defaults, and refusals that say what to change."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from server.cli import main
from server.settings import Settings


def test_defaults_are_local_and_embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GANSCOPE_HOST", raising=False)
    s = Settings(data_dir=tmp_path)
    assert s.host == "127.0.0.1" and s.port == 8000 and s.admin_token is None
    assert s.resolved_database_url == f"sqlite:///{tmp_path / 'ganscope.db'}"
    assert s.resolved_max_jobs(gpus=0) == 1 and s.resolved_max_jobs(gpus=4) == 4
    assert s.cors_origins == []


def test_environment_variables_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANSCOPE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GANSCOPE_PORT", "9001")
    monkeypatch.setenv("GANSCOPE_MAX_JOBS", "3")
    s = Settings()
    assert s.data_dir == tmp_path and s.port == 9001 and s.max_jobs == 3


def test_a_public_address_needs_a_token(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="GANSCOPE_ADMIN_TOKEN"):
        Settings(data_dir=tmp_path, host="0.0.0.0")
    ok = Settings(data_dir=tmp_path, host="0.0.0.0", admin_token="k3y-" + "x" * 20)
    assert ok.token.startswith("k3y-")


@pytest.mark.parametrize("token", ["changeme", "secret", "short"])
def test_placeholder_tokens_are_refused(tmp_path: Path, token: str) -> None:
    with pytest.raises(ValidationError, match="random secret"):
        Settings(data_dir=tmp_path, admin_token=token)


def test_serve_exits_2_with_the_reason(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    assert main(["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "GANSCOPE_ADMIN_TOKEN" in err and "Traceback" not in err
    assert main(["serve", "--port", "99999", "--data-dir", str(tmp_path)]) == 2
