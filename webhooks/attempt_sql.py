"""The database steps of delivery attempts, in batches, without the ORM's query compiler.

Every webhook try runs these: claim deliveries (one UPDATE ... RETURNING for a whole batch,
which also reads what the attempts need), then write the outcomes (one multi-row INSERT of the
attempts and one UPDATE of the deliveries). Compiling the equivalent ORM queries costs about
ten times the SQL itself (see docs/performance.md), and on SQLite it is spent while the write
lock is held. The SQL is portable
(SQLite >= 3.35, PostgreSQL); every value goes through the model fields' own adapters and
converters, so rows read and written are exactly what the ORM would read and write. Anything
that is not on the per-attempt path uses the ORM.
"""

from datetime import datetime
from functools import cache

from django.db import DEFAULT_DB_ALIAS, connection, connections

from webhooks.models import Attempt, Delivery, Endpoint, Event

# What an attempt needs, per model: (model, alias, attnames). The rest of each row stays deferred.
_LOAD = (
    (Delivery, "d", ("id", "event_id", "endpoint_id", "attempts", "chain_attempts")),
    (Event, "e", ("id", "type", "payload")),
    (Endpoint, "p", ("id", "url", "secret", "previous_secret", "previous_secret_expires_at", "enabled",
                     "disabled_reason", "failing_since", "last_success_at", "deleted_at", "connection_id")),
)
# What the outcome of an attempt writes on its delivery. `delivered_at` keeps its old value
# unless a new one is given (a retry must not clear the time of an earlier success).
DELIVERY_OUTCOME_COLUMNS = ("status", "attempts", "chain_attempts", "locked_until", "last_status_code",
                            "last_error", "last_latency_ms", "next_attempt_at", "queued_for", "delivered_at")
_KEEP_IF_NULL = frozenset({"delivered_at"})

Statement = tuple[str, list]


def _ordered(model, attnames: tuple[str, ...]) -> list[str]:
    # Model.from_db expects the values in the model's field order.
    return [f.attname for f in model._meta.concrete_fields if f.attname in attnames]


@cache
def _field(model, attname: str):
    return next(f for f in model._meta.concrete_fields if f.attname == attname)


# Fields whose database value is the Python value itself when it is an int, a str or None.
_PLAIN = frozenset({"AutoField", "BigAutoField", "IntegerField", "BigIntegerField", "PositiveIntegerField",
                    "CharField", "TextField", "ForeignKey"})


@cache
def _plain(model, attname: str) -> bool:
    return _field(model, attname).get_internal_type() in _PLAIN


def _prep(model, attname: str, value, db=None):
    if value is None or (type(value) in (int, str) and _plain(model, attname)):
        return value  # what get_db_prep_save returns for these, without its dozen calls
    return _field(model, attname).get_db_prep_save(value, db or connections[DEFAULT_DB_ALIAS])


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _in(column: str, count: int) -> str:
    return f"{column} IN ({', '.join(['%s'] * count)})"


# --- the claim --------------------------------------------------------------------------------

@cache
def _load_plan(vendor: str) -> tuple[str, list]:
    """The columns to SELECT and, per column, the converters the ORM would apply (for this database).

    Built once per database vendor: the converters depend on the backend, not on the
    connection object (the backend's are stateless but for its time zone, always UTC here).
    """
    columns, converters = [], []
    for model, alias, attnames in _LOAD:
        for attname in _ordered(model, attnames):
            field = _field(model, attname)
            columns.append(f"{alias}.{_q(field.column)}")
            expression = field.get_col(alias)
            converters.append((expression, connection.ops.get_db_converters(expression)
                               + expression.get_db_converters(connection)))
    return ", ".join(columns), converters


def _claim_sql(*, own: int, drain: bool) -> str:
    """UPDATE ... RETURNING that locks the pending, unlocked deliveries among `own` ids that are due
    (with the clock tolerance), and with `drain` up to LIMIT more of the oldest due ones.

    The conditions are repeated outside the subquery: on PostgreSQL a row that another worker
    claimed meanwhile is re-checked against them after its lock is released (READ COMMITTED),
    so it is dropped rather than claimed twice; SKIP LOCKED makes concurrent drains take
    different rows instead of queueing behind each other. SQLite runs the statement under its
    single write lock.
    """
    table = _q(Delivery._meta.db_table)
    free = f"{_q('status')} = %s AND ({_q('locked_until')} IS NULL OR {_q('locked_until')} < %s)"
    picks = []
    if own:
        picks.append(f"({_in(_q('id'), own)} AND {_q('next_attempt_at')} <= %s)")
    if drain:
        skip = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
        not_own = f" AND NOT {_in(_q('id'), own)}" if own else ""
        picks.append(f"{_q('id')} IN (SELECT {_q('id')} FROM {table} WHERE {free} AND {_q('next_attempt_at')} <= %s"
                     f"{not_own} ORDER BY {_q('next_attempt_at')} LIMIT %s{skip})")
    returning = ", ".join(_q(_field(Delivery, n).column) for n in _ordered(Delivery, _LOAD[0][2]))
    return (f"UPDATE {table} SET {_q('locked_until')} = %s WHERE {free} AND ({' OR '.join(picks)}) "
            f"RETURNING {returning}")


@cache
def _claim_plan(vendor: str, own: int, drain: bool) -> tuple[str, str]:
    """(claim statement, follow-up SELECT or ""). On PostgreSQL the claim and the read of the event
    and endpoint are one statement (a data-modifying CTE); SQLite needs a SELECT after it."""
    columns, _ = _load_plan(vendor)
    joins = (f"JOIN {_q(Event._meta.db_table)} e ON e.{_q('id')} = d.{_q('event_id')} "
             f"JOIN {_q(Endpoint._meta.db_table)} p ON p.{_q('id')} = d.{_q('endpoint_id')}")
    claim = _claim_sql(own=own, drain=drain)
    if vendor == "postgresql":
        return f"WITH d AS ({claim}) SELECT {columns} FROM d {joins}", ""
    return claim, f"SELECT {columns} FROM {_q(Delivery._meta.db_table)} d {joins} WHERE "


def deliveries_claim(*, delivery_ids: list[int], drain: int, now: datetime, due_before: datetime,
                     drain_due_before: datetime, locked_until: datetime) -> list[Delivery]:
    """Locks (until `locked_until`) the given deliveries that are pending, due by `due_before` and not
    held by another worker, plus with `drain` > 0 up to that many of the oldest other pending
    deliveries due by `drain_due_before`; returns them with `event` and `endpoint` attached, holding
    only the fields an attempt uses. A delivery deleted meanwhile is left out."""
    own, status = len(delivery_ids), Delivery.Status.PENDING
    if not own and drain <= 0:
        return []
    claim_sql, select_sql = _claim_plan(connection.vendor, own, drain > 0)
    lock, current = _prep(Delivery, "locked_until", locked_until), _prep(Delivery, "locked_until", now)
    params = [lock, status, current]
    if own:
        params += [*delivery_ids, _prep(Delivery, "next_attempt_at", due_before)]
    if drain > 0:
        params += [status, current, _prep(Delivery, "next_attempt_at", drain_due_before), *delivery_ids, drain]
    with connection.cursor() as cursor:
        cursor.execute(claim_sql, params)
        rows = cursor.fetchall()
        if select_sql and rows:
            ids = [row[0] for row in rows]
            cursor.execute(select_sql + _in(f"d.{_q('id')}", len(ids)), ids)
            rows = cursor.fetchall()
    return _instances(rows)


def _instances(rows: list[tuple]) -> list[Delivery]:
    db = connections[DEFAULT_DB_ALIAS]  # not the proxy: its every attribute is a context lookup
    _, converters = _load_plan(db.vendor)
    segments, start = [], 0
    for model, _, attnames in _LOAD:
        segments.append((model, _ordered(model, attnames), start, start + len(attnames)))
        start += len(attnames)

    def instance(row, model, names, begin, end):
        values = []
        for value, (expression, column_converters) in zip(row[begin:end], converters[begin:end], strict=False):
            for convert in column_converters:
                value = convert(value, expression, db)
            values.append(value)
        return model.from_db(db.alias, names, values)

    (_, delivery_names, d0, d1), (_, event_names, e0, e1), (_, endpoint_names, p0, p1) = segments
    endpoints: dict = {}  # one instance (one decryption of its secrets) per endpoint
    deliveries = []
    for row in rows:
        delivery = instance(row, Delivery, delivery_names, d0, d1)
        delivery.event = instance(row, Event, event_names, e0, e1)
        endpoint_id = row[p0]  # the first Endpoint column is its id
        if endpoint_id not in endpoints:
            endpoints[endpoint_id] = instance(row, Endpoint, endpoint_names, p0, p1)
        delivery.endpoint = endpoints[endpoint_id]
        deliveries.append(delivery)
    return deliveries


# --- the outcomes -----------------------------------------------------------------------------

def attempts_insert_statement(*, rows: list[dict]) -> Statement:
    """One multi-row INSERT of Attempt rows, each {attname: value} with the same names, prepared
    before any transaction opens (SQLite holds its write lock from BEGIN, so the less Python runs
    inside, the better)."""
    db = connections[DEFAULT_DB_ALIAS]
    names = tuple(rows[0])
    params = [_prep(Attempt, name, row[name], db) for row in rows for name in names]
    return _insert_sql(db.vendor, names, len(rows)), params


@cache
def _insert_sql(vendor: str, names: tuple[str, ...], count: int) -> str:
    row = f"({', '.join(['%s'] * len(names))})"
    return (f"INSERT INTO {_q(Attempt._meta.db_table)} ({', '.join(_q(_field(Attempt, n).column) for n in names)}) "
            f"VALUES {', '.join([row] * count)} RETURNING {_q('id')}, {_q('delivery_id')}")


def attempts_insert(*, statement: Statement) -> dict[int, int]:
    """Runs an attempts_insert_statement; returns {delivery id: new attempt id}."""
    sql, params = statement
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {delivery_id: attempt_id for attempt_id, delivery_id in cursor.fetchall()}


def deliveries_update_statement(*, rows: list[tuple[int, dict]]) -> Statement:
    """One UPDATE of many deliveries, each (id, {column: value} for every DELIVERY_OUTCOME_COLUMNS)."""
    db = connections[DEFAULT_DB_ALIAS]
    params = []
    for delivery_id, values in rows:
        params.append(delivery_id)
        params += [_prep(Delivery, name, values[name], db) for name in DELIVERY_OUTCOME_COLUMNS]
    return _update_sql(db.vendor, len(rows)), params


@cache
def _update_sql(vendor: str, count: int) -> str:
    table = _q(Delivery._meta.db_table)
    names = ("id", *DELIVERY_OUTCOME_COLUMNS)
    row = f"({', '.join(['%s'] * len(names))})"

    def value(name: str) -> str:
        column = f"v.{_q(name)}"
        if vendor == "postgresql":
            # VALUES columns of literals or NULLs are typed text or unknown: cast to the column's type.
            column = f"CAST({column} AS {_field(Delivery, name).db_type(connection)})"
        if name in _KEEP_IF_NULL:
            column = f"COALESCE({column}, {table}.{_q(name)})"
        return column

    assignments = ", ".join(f"{_q(_field(Delivery, n).column)} = {value(n)}" for n in DELIVERY_OUTCOME_COLUMNS)
    return (f"WITH v ({', '.join(_q(n) for n in names)}) AS (VALUES {', '.join([row] * count)}) "
            f"UPDATE {table} SET {assignments} FROM v WHERE {table}.{_q('id')} = v.{_q('id')}")


def deliveries_update(*, statement: Statement) -> None:
    sql, params = statement
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def commit_without_waiting_for_flush(*, outermost: bool) -> None:
    """In the current transaction on PostgreSQL: COMMIT returns before the WAL reaches disk.

    Only for the outcome of attempts. If the server crashes within the next few hundred
    milliseconds, the transaction is lost as a whole (never half-applied): the delivery is back to
    pending with the claim's lock, which runs out, and the sweeper sends it again. Delivery is
    at least once and receivers dedupe on webhook-id, so a crash costs a duplicate, never a lost
    event; every attempt in return saves a WAL flush (a disk sync) on the commit. The claim
    keeps the default, so a crash never lets two workers send the same delivery at once.
    Inside a caller's transaction (`outermost` False) nothing changes: that commit is the caller's.
    """
    if outermost and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
