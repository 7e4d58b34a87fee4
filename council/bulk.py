"""New rows by the batch, beneath the ORM: one statement for many rows.

Intake stores a burst of web questions, and their ``received`` events, a batch at a
time (council/arrivals.py). Through SQLAlchemy's executemany, every row's parameters
pass through the compiled statement's machinery, which was the larger part of the
writer's time in bench/intake.py. Here each value passes only through its column
type's own bind processor, so what is stored is what the ORM would have stored.

- PostgreSQL: ``INSERT ... SELECT ... FROM json_populate_recordset(...)``: the whole
  batch as one JSON parameter. One statement, one round trip and one parameter whatever
  the batch's size, so psycopg keeps its parse and the server its plan. (A multi-row
  VALUES has a parameter per value: psycopg re-parsed it on every batch.)
- SQLite: the driver's own ``executemany``; the new ids, when wanted, follow from the
  last one, as the transaction holds the only write lock.

``insert_rows_claiming`` puts an ``UPDATE ... RETURNING`` in front (for intake, the
meeting's seqs, taken only if it accepts questions): on PostgreSQL in the same statement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Table, Update
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from council.jsontext import dumps as json_text
from council.models import Base

Processor = Callable[[Any], Any] | None


def insert_rows(
    session: Session,
    model: type[Base],
    rows: Sequence[Mapping[str, Any]],
    *,
    return_ids: bool = False,
) -> list[int]:
    """Insert ``rows`` (all with the first row's keys) into ``model``'s table in the
    session's transaction; with ``return_ids``, the new primary keys in ``rows``' order.

    The ORM's Python-side defaults are not applied: a row names every column that has
    no default in the database itself.
    """
    if not rows:
        return []
    table = model.__table__
    assert isinstance(table, Table)
    columns = tuple(rows[0])
    connection = session.connection()
    dialect = connection.dialect
    driver = connection.connection.driver_connection
    assert driver is not None
    key = (table.name, columns, dialect.name, return_ids)
    if key not in _STATEMENTS:
        _STATEMENTS[key] = _statement(table, columns, dialect, return_ids)
    statement, processors = _STATEMENTS[key]
    if dialect.name == "postgresql":
        with driver.cursor() as cursor:
            cursor.execute(statement, (_as_json(rows, columns, processors),))
            # INSERT ... SELECT ... ORDER BY draws the ids in that order (SQLAlchemy's own
            # "insertmanyvalues" relies on the same): ascending ids are the rows' order.
            return sorted(int(found) for (found,) in cursor.fetchall()) if return_ids else []
    values = [
        tuple(
            row[name] if process is None else process(row[name])
            for name, process in zip(columns, processors, strict=True)
        )
        for row in rows
    ]
    cursor = driver.cursor()
    try:
        cursor.executemany(statement, values)
        if not return_ids:
            return []
        # Rows inserted one after another in a transaction, which holds SQLite's only
        # write lock, take consecutive rowids ("one larger than the largest", sqlite.org
        # autoinc.html): the last one gives them all.
        (last,) = cursor.execute("SELECT last_insert_rowid()").fetchone()
        return list(range(int(last) - len(values) + 1, int(last) + 1))
    finally:
        cursor.close()


# Worked out once per table, columns and database kind: {key: (text, processors)}.
_STATEMENTS: dict[tuple[str, tuple[str, ...], str, bool], tuple[str, tuple[Processor, ...]]] = {}


def _statement(
    table: Table, columns: tuple[str, ...], dialect: Dialect, return_ids: bool
) -> tuple[str, tuple[Processor, ...]]:
    """The statement's text and each column's bind processor."""
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    if dialect.name == "postgresql":
        returning = f" RETURNING {quote(_primary_key(table))}" if return_ids else ""
        text = (
            f"INSERT INTO {quote(table.name)} ({names}) "  # noqa: S608
            f"SELECT {names} FROM {_recordset(table, dialect, '%s')}{returning}"
        )
        return text, _processors(table, columns, dialect)
    # Only the table's own column names go into the text; values are parameters.
    text = (
        f"INSERT INTO {quote(table.name)} ({names}) "  # noqa: S608
        f"VALUES ({', '.join(['?'] * len(columns))})"
    )
    return text, tuple(table.c[name].type.bind_processor(dialect) for name in columns)


def insert_rows_claiming(
    session: Session,
    model: type[Base],
    rows: Sequence[Mapping[str, Any]],
    *,
    claim: Update,
    params: Mapping[str, Any],
    claimed: Mapping[str, str],
) -> tuple[tuple[Any, ...], list[int]] | None:
    """``insert_rows(..., return_ids=True)`` behind an ``UPDATE ... RETURNING`` of one row
    (``claim``, with its bound ``params``) that must succeed first: the rows take the
    columns ``claimed`` names (column: what the claim returns) from it. Returns the
    claim's row and the new ids; None, with nothing inserted, if the claim updated no row.

    On PostgreSQL both go in one statement (``WITH claim AS (UPDATE ...) INSERT ...``):
    one round trip less for every batch of questions (bench/intake.py). ``claim`` should
    be built once: its text is worked out once per statement object.
    """
    assert rows, "a claim with nothing behind it: use the claim alone"
    table = model.__table__
    assert isinstance(table, Table)
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql":
        found = connection.execute(claim, dict(params)).one_or_none()
        if found is None:
            return None
        taken = dict(found._mapping)
        filled = [{**row, **{c: taken[r] for c, r in claimed.items()}} for row in rows]
        return tuple(found), insert_rows(session, model, filled, return_ids=True)
    columns = tuple(rows[0])
    key = (table.name, columns, id(claim), tuple(claimed.items()))
    if key not in _CLAIMING:
        _CLAIMING[key] = _claiming_statement(table, columns, dialect, claim, claimed)
    text, fixed, processors, _kept = _CLAIMING[key]
    values = {"batch": _as_json(rows, columns, processors)}
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        cursor.execute(text, {**fixed, **params, **values})
        found_rows = cursor.fetchall()
    if not found_rows:
        return None
    # As in insert_rows: INSERT ... SELECT ... ORDER BY draws ascending ids in rows' order.
    return tuple(found_rows[0][1:]), sorted(int(found[0]) for found in found_rows)


# {key: (text, the claim's own fixed parameters, processors, the claim)}: the claim is kept
# so that its id, part of the key, is never another statement's.
_CLAIMING: dict[tuple[Any, ...], tuple[str, dict[str, Any], tuple[Processor, ...], Update]] = {}


def _claiming_statement(
    table: Table,
    columns: tuple[str, ...],
    dialect: Dialect,
    claim: Update,
    claimed: Mapping[str, str],
) -> tuple[str, dict[str, Any], tuple[Processor, ...], Update]:
    compiled = claim.compile(dialect=dialect)
    returned = [column.name for column in claim.exported_columns]
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    # Only our own table and column names go into the text; values are parameters.
    text = (
        f"WITH claim AS ({compiled}) "  # noqa: S608
        f"INSERT INTO {quote(table.name)} ({names}, {', '.join(map(quote, claimed))}) "
        f"SELECT {', '.join(f'batch.{quote(n)}' for n in columns)}, "
        f"{', '.join(f'claim.{quote(r)}' for r in claimed.values())} "
        f"FROM claim, {_recordset(table, dialect, '%(batch)s')} "
        f"RETURNING {quote(_primary_key(table))}, "
        + ", ".join(f"(SELECT claim.{quote(r)} FROM claim)" for r in returned)  # noqa: S608
    )
    return text, dict(compiled.params), _processors(table, columns, dialect), claim


def _recordset(table: Table, dialect: Dialect, placeholder: str) -> str:
    """PostgreSQL: the batch, sent as one JSON array of rows, as rows of ``table`` in the
    order they were given (for ``... ORDER BY`` the ids are drawn in)."""
    quote = dialect.identifier_preparer.quote
    return (
        f"json_populate_recordset(NULL::{quote(table.name)}, {placeholder}::json) "
        "WITH ORDINALITY AS batch ORDER BY batch.ordinality"
    )


def _processors(table: Table, columns: tuple[str, ...], dialect: Dialect) -> tuple[Processor, ...]:
    """PostgreSQL: each column's bind processor, but JSON's: its values go into the batch's
    JSON as they are."""
    return tuple(
        None if isinstance(table.c[name].type, JSON) else table.c[name].type.bind_processor(dialect)
        for name in columns
    )


def _as_json(
    rows: Sequence[Mapping[str, Any]], columns: tuple[str, ...], processors: tuple[Processor, ...]
) -> str:
    """PostgreSQL: the rows as one JSON text. Encoding a whole batch at once runs in C
    (council/jsontext.py); psycopg's array dumpers run in Python per value, which cost
    the writer a millisecond per batch (bench/intake.py)."""
    # Datetimes go as ISO 8601 with their offset (aware: the bind processor made them UTC).
    return json_text(
        [
            {
                name: row[name] if process is None else process(row[name])
                for name, process in zip(columns, processors, strict=True)
            }
            for row in rows
        ]
    )


def _primary_key(table: Table) -> str:
    (key,) = table.primary_key.columns
    return key.name
