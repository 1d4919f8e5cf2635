"""Engine, sessions and migrations.

SQLite runs in WAL mode (readers never wait for the writer). Transactions that read and then
write begin with ``BEGIN IMMEDIATE``: under a plain ``BEGIN`` two such transactions can both
read, then neither can upgrade its lock, and one fails with ``database is locked``. Read-only
work uses a second engine with SQLite's deferred ``BEGIN``, so readers never queue behind a
write lock. PostgreSQL needs neither trick: both engines are plain there.

Errors a user can meet (no driver, a server that does not answer, a wrong password, a database
newer than this code) are raised as ``DatabaseError`` with a message that says what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["Database", "DatabaseError", "check_connection", "current_revision", "head_revision",
           "migrate", "open_database", "safe_url"]

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


class DatabaseError(Exception):
    """A database the server cannot use, said so that the user knows what to change."""


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3, the driver of ganscope[postgres]."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<an unreadable URL>"


class Database:
    """Two session factories over one database: ``write()`` and ``read()``."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.safe_url = safe_url(self.url)
        self.is_sqlite = self.url.startswith("sqlite")
        try:
            if self.is_sqlite:
                path = self.url.split("///", 1)[-1]
                if path and path != ":memory:":
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                self.write_engine = _sqlite_engine(self.url, immediate=True)
                self.read_engine = _sqlite_engine(self.url, immediate=False)
            else:
                self.write_engine = create_engine(self.url, pool_pre_ping=True)
                self.read_engine = self.write_engine
        except ModuleNotFoundError as exc:
            extra = " (pip install 'ganscope[postgres]')" if "postgres" in self.url else ""
            raise DatabaseError(f"the database URL {self.safe_url} needs the Python module "
                                f"{exc.name!r}, which is not installed{extra}") from None
        except ArgumentError as exc:
            raise DatabaseError(f"the database URL {self.safe_url} is not one SQLAlchemy reads "
                                f"({exc}); e.g. postgresql+psycopg://user:password@host/db or "
                                "sqlite:////path/ganscope.db") from None
        self._write = sessionmaker(self.write_engine, expire_on_commit=False)
        self._read = sessionmaker(self.read_engine, expire_on_commit=False)

    def ping(self) -> None:
        """One round trip on the read engine (the health check's)."""
        with self.read() as session:
            session.execute(text("SELECT 1"))

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


def check_connection(db: Database) -> None:
    """Connect once, or raise a DatabaseError saying why not and what to do."""
    try:
        with db.write_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        raise DatabaseError(_explain(db, exc)) from None


def _explain(db: Database, exc: OperationalError) -> str:
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    low = reason.lower()
    url = make_url(db.url)
    if "password authentication failed" in low or "no password supplied" in low:
        hint = f"check the user ({url.username}) and password in the URL"
    elif "does not exist" in low and "database" in low:
        hint = (f"create the database first (e.g. `createdb -O {url.username} {url.database}`)"
                f" or fix its name in the URL")
    elif any(s in low for s in ("connection refused", "could not translate host", "timeout",
                                "timed out", "no route to host", "name or service not known")):
        hint = (f"is PostgreSQL running and listening on {url.host}:{url.port or 5432}? "
                "check the host and port in the URL")
    elif db.is_sqlite:
        hint = "check that the folder exists and is writable"
    else:
        hint = "check the URL (GANSCOPE_DATABASE_URL)"
    return f"cannot connect to the database {db.safe_url}: {reason}; {hint}"


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(db: Database) -> str | None:
    """The revision the database is at (None: not migrated yet)."""
    from alembic.migration import MigrationContext

    with db.write_engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def open_database(url: str) -> Database:
    """A Database that answers and is not newer than this code, or a DatabaseError."""
    db = Database(url)
    try:
        check_connection(db)
        _check_not_newer(db)
    except DatabaseError:
        db.dispose()
        raise
    return db


def _check_not_newer(db: Database) -> None:
    from alembic.script import ScriptDirectory

    at = current_revision(db)
    known = {r.revision for r in ScriptDirectory.from_config(alembic_config(db.url))
             .walk_revisions()}
    if at is not None and at not in known:
        raise DatabaseError(
            f"the database {db.safe_url} is at revision {at}, which this GANscope does not "
            f"know (its newest is {head_revision()}): a newer GANscope wrote it; upgrade "
            "ganscope, or point GANSCOPE_DATABASE_URL at another database")


def migrate(db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``; data is kept (every migration is written to)."""
    from alembic import command

    check_connection(db)
    _check_not_newer(db)
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
    log.info("database %s at revision %s", db.safe_url, revision)
