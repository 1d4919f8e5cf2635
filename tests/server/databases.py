"""The databases the server tests run on: SQLite always, PostgreSQL where one is given.

``GANSCOPE_TEST_DATABASE_URL`` names a PostgreSQL database whose role may create databases
(``.ci/postgres start`` starts such a server on 127.0.0.1). Each test that asks for
``postgresql`` gets a fresh database of its own, built by the migrations (never a hand-kept list
of tables), dropped afterwards. Without the variable the PostgreSQL cases skip, except under
``CI=true``, where they fail: CI must test both databases.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

EXTERNAL_URL = os.environ.get("GANSCOPE_TEST_DATABASE_URL", "")
KINDS = ("sqlite", "postgresql")


def require_postgresql() -> str:
    """The admin URL, or skip (fail under CI) when there is none."""
    if EXTERNAL_URL:
        return EXTERNAL_URL
    message = ("GANSCOPE_TEST_DATABASE_URL is not set: start a server with "
               "`eval \"$(.ci/postgres start)\"` (Debian's postgresql package)")
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def fresh_postgresql() -> Iterator[str]:
    """A new, empty database on the test server; its URL. Dropped on exit, connections and all."""
    admin_url = make_url(require_postgresql())
    name = f"ganscope_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def database_url(kind: str, folder: Path) -> Iterator[str]:
    """An empty database of ``kind``: a SQLite file in ``folder``, or a fresh PostgreSQL one."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'ganscope.db'}"
    else:
        with fresh_postgresql() as url:
            yield url
