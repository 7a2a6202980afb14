"""Database housekeeping shared by both engines."""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from django.db import connection

from recoup.core import sqlite_wal

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models import Model


def execute(sql: str, params: list[Any]) -> int:
    """Run one statement on the default connection; the number of rows it touched."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount or 0)


def refresh_planner_statistics() -> None:
    """Refresh the query planner's statistics after bulk loads (imports, demo data).

    SQLite has no autovacuum: without ANALYZE its planner prefers the single-column
    organisation index even for a blind-index look-up (bench/case_list.py: a phone search
    took 838 ms at 200k cases before ANALYZE and 124 ms after). PostgreSQL's autovacuum
    catches up eventually; analysing right after a bulk load avoids slow plans meanwhile.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA optimize")
        elif connection.vendor == "postgresql":
            cursor.execute("ANALYZE")


@contextlib.contextmanager
def sqlite_indexes_rebuilt(table: str, names: Sequence[str], *, when: bool) -> Iterator[None]:
    """On SQLite, when ``when``: drop ``table``'s indexes ``names`` for the block and create
    them again after it, with the same DDL, in the caller's transaction.

    For a bulk insert that at least doubles a table: one sorted build of an index costs less
    than that many inserts at random places in it (a blind-index index is random by design).
    SQLite's DDL is transactional and WAL readers keep their snapshot, so other connections
    never see the table without its index; if the block fails, the rollback restores it.
    Elsewhere (PostgreSQL: DROP INDEX would lock readers out for the block) a no-op.
    """
    if connection.vendor != "sqlite" or not when:
        yield
        return
    if not connection.in_atomic_block:
        raise RuntimeError("sqlite_indexes_rebuilt needs the caller's transaction")
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
            "AND sql IS NOT NULL",
            [table],
        )
        ddl = [(name, sql) for name, sql in cursor.fetchall() if name in names]
    with sqlite_freed_pages_kept(), connection.cursor() as cursor:
        for name, _sql in ddl:
            cursor.execute(f"DROP INDEX {q(name)}")  # its pages go straight to the new build
    yield
    with connection.cursor() as cursor:
        for _name, sql in ddl:
            cursor.execute(sql)


@contextlib.contextmanager
def sqlite_freed_pages_kept() -> Iterator[None]:
    """On SQLite, for the block: pages freed by a DELETE or DROP are not zero-filled.

    SQLite as Debian builds it (``SECURE_DELETE``) overwrites every page it frees with zeros,
    through the log: emptying a 1M-row import's staging wrote about 1.8 GB of zeros and took
    18 s. ``FAST`` still zeroes deleted rows inside the pages it writes anyway, but leaves
    whole freed pages as they were until SQLite reuses them or a VACUUM. Use it only where
    the freed pages hold nothing that the live rows do not (staging: sealed personal data,
    blind indexes, case numbers and amounts; an index about to be built again)."""
    if connection.vendor != "sqlite":
        yield
        return
    with _sqlite_pragmas({"secure_delete": "FAST"}):
        yield


@contextlib.contextmanager
def _sqlite_pragmas(values: dict[str, int | str]) -> Iterator[None]:
    """Set these (integer-valued) SQLite pragmas of this connection for the block."""
    previous: dict[str, int] = {}
    with connection.cursor() as cursor:
        for name, value in values.items():
            cursor.execute(f"PRAGMA {name}")
            previous[name] = int(cursor.fetchone()[0])
            cursor.execute(f"PRAGMA {name} = {value}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for name, value in previous.items():
                cursor.execute(f"PRAGMA {name} = {value}")


def analyze_tables(*tables: str) -> None:
    """Fresh statistics for tables a bulk load just filled, before set-based SQL reads them.

    Without them both planners treat a freshly staged million rows as a handful and pick
    nested loops that are quadratic in the batch size (bench/import_cases.py measured minutes
    for 20k rows). SQLite samples (analysis_limit) so this stays well under a second.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA analysis_limit=1000")
        for table in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA analysis_limit=0")


# SQLite's default page cache is 2 MB; a bulk load that maintains indexes over millions of
# rows spends its time re-reading pages it just evicted (PERF.md: 20.4 s → 16.3 s per 1M rows
# with 256 MB). PostgreSQL's cache is the server's (shared_buffers), not per connection.
BULK_SQLITE_CACHE_KIB = 256 * 1024
BULK_PG_WORK_MEM_MB = 256


@contextlib.contextmanager
def bulk_session() -> Iterator[None]:
    """Tune this connection for a bulk load and restore it afterwards.

    SQLite gets a large page cache, and its commits leave checkpoints to the checkpoint
    thread when this process runs one (``recoup.core.sqlite_wal``). PostgreSQL gets a larger
    ``work_mem`` for this session only, so the hash joins and sorts of the set-based
    statements over millions of staged rows stay in memory instead of spilling to disk (the
    server default is 4 MB)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET work_mem = '{BULK_PG_WORK_MEM_MB}MB'")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET work_mem")
        return
    if connection.vendor != "sqlite":
        yield
        return
    values: dict[str, int | str] = {"cache_size": -BULK_SQLITE_CACHE_KIB}
    if _checkpointed_in_background():
        values["wal_autocheckpoint"] = 0
    with _sqlite_pragmas(values):
        yield


def _checkpointed_in_background() -> bool:
    """Whether this process's checkpoint thread copies the log of this SQLite file
    (``recoup.core.sqlite_wal``; never for an in-memory database): then a bulk load's
    commits need not checkpoint at all."""
    return sqlite_wal.running(str(connection.settings_dict.get("NAME") or ""))


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a hot loop builds many small tuples (they
    hold no cycles; PERF.md: a 1M-row list builds in 5.6 s instead of 12 s)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def dangling_keys(table: str, column: str, target: str, *, limit: int = 100) -> list[int]:
    """Rows of ``table`` whose ``column`` names no row of ``target`` (their ids, at most
    ``limit``): the check a foreign key without a database constraint does not make."""
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.id FROM {q(table)} s LEFT JOIN {q(target)} t ON t.id = s.{q(column)} "  # noqa: S608 (names quoted)
            f"WHERE s.{q(column)} IS NOT NULL AND t.id IS NULL ORDER BY s.id LIMIT %s",
            [limit],
        )
        return [int(row[0]) for row in cursor.fetchall()]


class RowShape:
    """Some columns of one model read by hand-written SQL, turned into a model instance.

    For the few hot statements where building an ORM query costs more than running it
    (the compliance gate: bench/gate.py). ``columns(alias)`` is the select list in the
    model's field order; ``instance(values)`` converts the values as the ORM would (the
    backend's and the fields' converters: SQLite's dates and booleans, JSON) and returns a
    deferred instance, like ``.only(...)``.
    """

    def __init__(self, model: type[Model], attnames: Iterable[str]) -> None:
        wanted = set(attnames)
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields if f.attname in wanted]
        unknown = wanted - {f.attname for f in self.fields}
        if unknown:
            raise ValueError(f"{model.__name__} has no columns {sorted(unknown)}")
        self.attnames = frozenset(f.attname for f in self.fields)
        self._converters: dict[str, list[tuple[int, list[Any], Any]]] = {}

    def __len__(self) -> int:
        return len(self.fields)

    def columns(self, alias: str) -> str:
        q = connection.ops.quote_name
        return ", ".join(f"{alias}.{q(f.column or f.attname)}" for f in self.fields)

    def _converters_for(self, conn: BaseDatabaseWrapper) -> list[tuple[int, list[Any], Any]]:
        found = self._converters.get(conn.vendor)
        if found is None:
            found = []
            for i, f in enumerate(self.fields):
                expression = f.get_col(self.model._meta.db_table)
                converters = conn.ops.get_db_converters(expression) + f.get_db_converters(conn)
                if converters:
                    found.append((i, converters, expression))
            self._converters[conn.vendor] = found
        return found

    def instance(self, values: Sequence[Any], conn: BaseDatabaseWrapper | None = None) -> Any:
        conn = conn or connection
        row = list(values)
        for i, converters, expression in self._converters_for(conn):
            value = row[i]
            for convert in converters:
                value = convert(value, expression, conn)
            row[i] = value
        return self.model.from_db(conn.alias, self.attnames, row)


_INSERT_SQL: dict[tuple[type[Model], str], tuple[str, list[Any]]] = {}


def insert_one(obj: Model) -> None:
    """INSERT one new instance as ``obj.save(force_insert=True)`` would, without compiling
    the statement each time (it is built once per model and engine).

    For the hot paths only (the compliance gate logs every decision): no signals are sent,
    the model must have an automatic integer primary key, and no parent models.
    """
    model = type(obj)
    key = (model, connection.vendor)
    found = _INSERT_SQL.get(key)
    if found is None:
        meta = model._meta
        automatic = {"AutoField", "BigAutoField", "SmallAutoField"}
        if meta.parents or meta.pk is None or meta.pk.get_internal_type() not in automatic:
            raise TypeError(f"insert_one cannot insert {model.__name__}")
        fields = [f for f in meta.local_concrete_fields if not f.primary_key and not f.generated]
        q = connection.ops.quote_name
        columns = ", ".join(q(f.column or f.attname) for f in fields)
        sql = (
            f"INSERT INTO {q(meta.db_table)} ({columns}) "  # noqa: S608 - names from the model
            f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {q(meta.pk.column or 'id')}"
        )
        found = _INSERT_SQL[key] = (sql, fields)
    sql, fields = found
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    assert row is not None
    obj.pk = row[0]
    obj._state.adding = False
    obj._state.db = connection.alias


def fetch_prepared(statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Any]]:
    """PostgreSQL: run ``statements`` in order as prepared statements in one pipeline, and
    return each one's rows.

    For the hottest reads only (the compliance gate's, bench/gate.py): one round trip for
    all of them, and each is parsed and planned once per connection instead of on every
    call (its planning cost 0.34 ms of a 0.65 ms read). Prepared statements live in the
    server session, so a pooler in front must pool sessions (docs/deploy.md says so); with
    ``?prepare_threshold=`` in the database URL nothing is prepared and the statements still
    share one round trip. They run through Django's cursor wrappers (timers, query capture).
    """
    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw = connection.connection
    cursors = []
    with connection.wrap_database_errors, raw.pipeline():
        for sql, params in statements:
            plain = _prepared_cursor_class()(raw)
            cursor = (
                connection.make_debug_cursor(plain)
                if connection.queries_logged
                else connection.make_cursor(plain)
            )
            cursor.execute(sql, params)
            cursors.append(cursor)
        return [cursor.fetchall() for cursor in cursors]


@functools.cache
def _prepared_cursor_class() -> type:
    import psycopg  # only here: a SQLite-only install never calls this

    class Prepared(psycopg.Cursor):
        """Prepares every statement it runs: psycopg prepares only statements that ask
        (the database URL's ``prepare_threshold`` keeps it from doing so on its own)."""

        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            kwargs["prepare"] = True
            return super().execute(query, params, **kwargs)

    return Prepared
