"""Server settings: one pydantic-settings class, read from ``GANSCOPE_*`` environment variables.

Build the app with ``create_app(Settings(...))``; nothing reads the environment at import time.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "default_data_dir", "is_loopback"]

PLACEHOLDER_TOKENS = {"", "changeme", "change-me", "secret", "token", "admin", "password"}


def default_data_dir() -> Path:
    return Path.home() / ".ganscope"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    """Where the server keeps its data, where it listens, and the limits it enforces."""

    model_config = SettingsConfigDict(env_prefix="GANSCOPE_", extra="forbid")

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Runs, the SQLite database and cached statistics live here.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default: a SQLite file DATA_DIR/ganscope.db. "
        "PostgreSQL: postgresql+psycopg://user:password@host/db",
    )
    host: str = Field("127.0.0.1", description="Address to bind; loopback unless a token is set.")
    port: int = Field(8000, ge=1, le=65535)
    max_jobs: int | None = Field(
        None, ge=1, le=64,
        description="Runs that train at once; default: the number of GPUs, or 1 on CPU.",
    )
    cpu_threads: int | None = Field(
        None, ge=1, le=256,
        description="CPU threads per worker without a GPU; default: the cores divided by "
        "max_jobs.",
    )
    admin_token: SecretStr | None = Field(
        None,
        description="Required to bind to a non-loopback address; then every mutating route "
        "and every WebSocket must present it.",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (off when empty)."
    )
    jobs_backend: Literal["local", "ray"] = Field(
        "local", description="Where runs train: local worker processes on this machine, or "
        "actors on a Ray cluster.",
    )
    ray_address: str = Field(
        "", description="With the ray backend: 'auto' (this machine is a node), "
        "'host:6379', 'ray://host:10001' (Ray Client), or empty for an embedded "
        "local instance on 127.0.0.1.",
    )
    ray_node_ip: str | None = Field(
        None, description="This machine's address as a node of the cluster (Ray's own "
        "choice when unset).",
    )
    ray_namespace: str = Field(
        "ganscope", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$",
        description="Ray namespace of this server's run actors: one server per namespace.",
    )
    ray_detach_timeout_s: float = Field(
        120.0, ge=2.0, le=86_400.0, description="A run on the cluster that hears nothing "
        "from the server for this long stops with a checkpoint (interrupted, resumable).",
    )
    # limits
    max_batch_size: int = Field(1024, ge=1, le=4096)
    max_steps: int = Field(1_000_000, ge=1, le=10_000_000)
    max_image_size: int = Field(64, ge=8, le=64)
    max_queued_runs: int = Field(100, ge=1, le=10_000)
    max_sweep_runs: int = Field(100, ge=1, le=10_000, description="Points of one sweep at most.")
    max_request_bytes: int = Field(1_000_000, ge=1_000, le=100_000_000)
    history_points: int = Field(
        2000, ge=10, le=100_000,
        description="Most points per series in a run's history sent to a new WebSocket client.",
    )
    client_queue: int = Field(
        256, ge=8, le=100_000,
        description="Frames waiting for one WebSocket client before metric frames are merged.",
    )

    @model_validator(mode="after")
    def _safe(self) -> Settings:
        token = self.admin_token.get_secret_value() if self.admin_token else None
        if token is not None and (token.strip().lower() in PLACEHOLDER_TOKENS or len(token) < 12):
            raise ValueError(
                "GANSCOPE_ADMIN_TOKEN: use a random secret of at least 12 characters, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(24))'`"
            )
        if not is_loopback(self.host) and token is None:
            raise ValueError(
                f"GANSCOPE_HOST={self.host} exposes the server beyond this machine: set "
                "GANSCOPE_ADMIN_TOKEN as well, or bind to 127.0.0.1"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'ganscope.db'}"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    def resolved_max_jobs(self, gpus: int) -> int:
        return self.max_jobs or max(1, gpus)

    def resolved_cpu_threads(self, jobs: int) -> int:
        return self.cpu_threads or max(1, (os.cpu_count() or 1) // jobs)

    @property
    def token(self) -> str | None:
        return self.admin_token.get_secret_value() if self.admin_token else None
