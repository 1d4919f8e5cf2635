"""Engine, sessions and migrations.

SQLite runs in WAL mode (readers never wait for the writer). Transactions that read and then
write begin with ``BEGIN IMMEDIATE``: under a plain ``BEGIN`` two such transactions can both
read, then neither can upgrade its lock, and one fails with ``database is locked``. Read-only
work uses a second engine with SQLite's deferred ``BEGIN``, so readers never queue behind a
write lock. PostgreSQL needs neither trick: both engines are plain there.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["Database", "migrate"]

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode up to the last commit
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """Two session factories over one database: ``write()`` and ``read()``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.write_engine = _sqlite_engine(url, immediate=True)
            self.read_engine = _sqlite_engine(url, immediate=False)
        else:
            self.write_engine = create_engine(url, pool_pre_ping=True)
            self.read_engine = self.write_engine
        self._write = sessionmaker(self.write_engine, expire_on_commit=False)
        self._read = sessionmaker(self.read_engine, expire_on_commit=False)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that may write: committed on success, rolled back on error."""
        with self._write() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``; data is kept (every migration is written to)."""
    from alembic import command

    cfg = alembic_config(db.url)
    with db.write_engine.connect() as conn:
        if db.is_sqlite:
            # batch migrations copy and DROP tables; with foreign keys on, SQLite's DROP of
            # `runs` would cascade and delete every child row. The pragma only takes effect
            # outside a transaction, hence the raw DB-API connection.
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        cfg.attributes["connection"] = conn
        try:
            command.upgrade(cfg, revision)
            conn.commit()
        finally:
            if db.is_sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")
    log.info("database %s at revision %s", _safe_url(db.url), revision)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
