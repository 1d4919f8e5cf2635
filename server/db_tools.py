"""What a database holds, and moving a lab's data from one database to another.

``ganscope db status`` and ``ganscope db copy`` are built on these. A copy goes table by table,
parents before children (the models' foreign keys order them), each in one pass over the source
in primary-key order, inside one transaction on the target: it lands whole or not at all.

- Into an empty target the rows keep their ids, so links and tokens stay valid; PostgreSQL's
  id sequences are moved past the copied ids.
- ``merge=True`` adds the source's rows to a target that holds data: a run, sweep, study or pool
  image whose id is already there is kept as it is and its rows are not copied again (a second
  copy adds only what is new); rows with numeric ids get new ones, and the rows that refer to
  them follow.

The run folders (checkpoints, grids) are files under DATA_DIR/runs and are not in the database:
a server that moves to another machine takes that folder along.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.engine import Connection

from server.db import Database, DatabaseError, check_connection, current_revision, head_revision
from server.models import Base

__all__ = ["CopyReport", "DatabaseError", "copy_database", "describe", "row_counts"]

CHUNK = 1000


def tables() -> list[Table]:
    """Every table of the models, parents before children."""
    return list(Base.metadata.sorted_tables)


def row_counts(db: Database) -> dict[str, int]:
    with db.read() as session:
        return {t.name: session.execute(select(func.count()).select_from(t)).scalar_one()
                for t in tables()}


@dataclass
class CopyReport:
    source: dict[str, int]
    target_before: dict[str, int]
    copied: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)  # merge: already in the target
    target_after: dict[str, int] = field(default_factory=dict)

    @property
    def mismatches(self) -> list[str]:
        """Tables whose rows do not all add up; empty when the copy is whole."""
        bad = []
        for name, n in self.source.items():
            copied, kept = self.copied.get(name, 0), self.kept.get(name, 0)
            if (copied + kept != n
                    or self.target_after.get(name) != self.target_before.get(name, 0) + copied):
                bad.append(name)
        return bad

    def table(self) -> str:
        head = ("table", "source", "target before", "copied", "kept", "target after")
        rows = [head] + [(name, str(n), str(self.target_before.get(name, 0)),
                          str(self.copied.get(name, 0)), str(self.kept.get(name, 0)),
                          str(self.target_after.get(name, "?")))
                         for name, n in self.source.items()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(r, widths, strict=True)))
                         for r in rows)


Progress = Callable[[str, int], Any]  # (table, total) -> an object with update(n) and close()


def copy_database(source: Database, target: Database, *, merge: bool = False,
                  progress: Progress | None = None) -> CopyReport:
    """Copy every row of ``source`` into ``target`` (migrated to the newest revision first)."""
    from server.db import migrate

    if source.safe_url == target.safe_url:
        raise DatabaseError("the source and the target are the same database; pick another "
                            "--to")
    check_connection(source)
    head = head_revision()
    at = current_revision(source)
    if at != head:
        raise DatabaseError(
            f"the source {source.safe_url} is at revision {at or 'none'}, this GANscope's is "
            f"{head}: bring it up to date first with `ganscope db migrate --url "
            f"{source.safe_url}` (migrations keep every row)")
    check_connection(target)
    migrate(target)
    report = CopyReport(source=row_counts(source), target_before=row_counts(target))
    if not merge and any(report.target_before.values()):
        held = ", ".join(f"{n} {name}" for name, n in report.target_before.items() if n)
        raise DatabaseError(f"the target {target.safe_url} already holds data ({held}): pass "
                            "--merge to add the source's rows to it, or give an empty database")
    ids: dict[str, dict[Any, Any]] = {}  # merge: table -> old id -> new id (numeric ids)
    dropped: dict[str, set[Any]] = {}  # merge: table -> ids of source rows not copied
    with source.read_engine.connect() as src, target.write_engine.begin() as dst:
        for table in tables():
            bar = progress(table.name, report.source[table.name]) if progress else None
            try:
                copied, kept = _copy_table(table, src, dst, merge=merge, ids=ids,
                                           dropped=dropped, bar=bar)
            finally:
                if bar is not None:
                    bar.close()
            report.copied[table.name], report.kept[table.name] = copied, kept
        if target.write_engine.dialect.name == "postgresql":
            _advance_sequences(dst)
    report.target_after = row_counts(target)
    return report


def _source_rows(table: Table, src: Connection) -> Iterator[list[dict[str, Any]]]:
    order = [table.c.created_at] if "created_at" in table.c else []  # parents before children
    query = select(table).order_by(*order, *table.primary_key.columns)
    result = src.execution_options(yield_per=CHUNK).execute(query)
    for chunk in result.mappings().partitions(CHUNK):
        yield [dict(row) for row in chunk]


def _copy_table(table: Table, src: Connection, dst: Connection, *, merge: bool,
                ids: dict[str, dict[Any, Any]], dropped: dict[str, set[Any]],
                bar: Any) -> tuple[int, int]:
    [pk] = table.primary_key.columns
    numeric = pk.type.python_type is int
    referenced = any(fk.column.table is table for t in tables() for fk in t.foreign_keys)
    copied = kept = 0
    for rows in _source_rows(table, src):
        if not merge:
            dst.execute(insert(table), rows)
            copied += len(rows)
            if bar is not None:
                bar.update(len(rows))
            continue
        keep: list[dict[str, Any]] = []
        for row in rows:
            if _follow_parents(table, row, ids, dropped):
                keep.append(row)
            else:  # its parent was not copied: neither is it
                dropped.setdefault(table.name, set()).add(row[pk.name])
                kept += 1
        if not numeric and keep:
            there = set(dst.execute(select(pk).where(pk.in_([r[pk.name] for r in keep])))
                        .scalars())
            for row in keep:
                if row[pk.name] in there:
                    dropped.setdefault(table.name, set()).add(row[pk.name])
            kept += len(there)
            keep = [r for r in keep if r[pk.name] not in there]
        if numeric and keep:
            old = [r.pop(pk.name) for r in keep]
            if referenced:
                new = dst.execute(insert(table).returning(pk, sort_by_parameter_order=True),
                                  keep).scalars().all()
                ids.setdefault(table.name, {}).update(zip(old, new, strict=True))
            else:
                dst.execute(insert(table), keep)
        elif keep:
            dst.execute(insert(table), keep)
        copied += len(keep)
        if bar is not None:
            bar.update(len(rows))
    return copied, kept


def _follow_parents(table: Table, row: dict[str, Any], ids: dict[str, dict[Any, Any]],
                    dropped: dict[str, set[Any]]) -> bool:
    """Point ``row``'s foreign keys at the parents' ids in the target; False when a parent
    whose rows cascade to it was not copied (the row is already there with it)."""
    for fk in table.foreign_keys:
        value = row.get(fk.parent.name)
        if value is None:
            continue
        parent = fk.column.table.name
        if value in dropped.get(parent, ()):
            if fk.ondelete == "CASCADE":
                return False
            continue  # e.g. a run's sweep: the target's row of that id stays its parent
        if parent in ids:
            row[fk.parent.name] = ids[parent].get(value, value)
    return True


def _advance_sequences(dst: Connection) -> None:
    """After rows were inserted with their ids, the next generated id follows the largest."""
    for table in tables():
        [pk] = table.primary_key.columns
        if pk.type.python_type is not int:
            continue
        dst.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{pk.name}'), "
            f"coalesce((SELECT max({pk.name}) FROM {table.name}), 0) + 1, false)"))


def describe(db: Database) -> dict[str, Any]:
    """``ganscope db status``: the URL (password hidden), revisions and row counts."""
    check_connection(db)
    at, head = current_revision(db), head_revision()
    counts = row_counts(db) if at == head else {}
    return {"url": db.safe_url, "revision": at, "head": head, "counts": counts}

