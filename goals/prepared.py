"""Queries of a fixed shape, built with the ORM once and compiled once (speed-up, see
docs/PERFORMANCE.md: building and compiling a query costs more Python time than PostgreSQL takes
to answer it).

A ``PreparedQuery`` is built through the same queryset methods every other caller uses
(``owned_by``, ``GoalFilter.shown``, ...), with a ``Slot`` where a value changes from one run to
the next. The SQL and its parameters are kept; each run puts its values in the slots' places.
Slots are found by identity, not by value, so no parameter of the query can be mistaken for one.
The rows come back as named tuples, named as the query names its columns.
"""

from collections import namedtuple
from functools import cache, cached_property

from django.db import connections, router
from django.db.models import Expression, UUIDField
from psycopg import sql


class Slot(Expression):
    """A value of a prepared query, given at each run (``PreparedQuery.rows(name=value)``)."""

    def __init__(self, name: str, output_field=None):
        super().__init__(output_field=output_field or UUIDField())
        self.name = name

    def as_sql(self, compiler, connection):
        return "%s", [self]


class PreparedQuery:
    def __init__(self, build, *, model):
        self._build = build  # () -> QuerySet, with Slots where values change
        self._model = model

    @cached_property
    def _compiled(self) -> tuple[str, list]:
        queryset = self._build()
        return queryset.query.get_compiler(queryset.db).as_sql()

    def rows(self, *, limit: int | None = None, **values) -> list:
        """The query's rows with ``values`` in its slots (and ``LIMIT limit``)."""
        statement, params = self._compiled
        params = [values[param.name] if isinstance(param, Slot) else param for param in params]
        if limit is not None:
            statement = sql.SQL("{} LIMIT %s").format(sql.SQL(statement))
            params.append(limit)
        with connections[router.db_for_read(self._model)].cursor() as cursor:
            cursor.execute(statement, params)
            row = _row_class(tuple(column.name for column in cursor.description))
            new = tuple.__new__  # as Django makes its own named rows (NamedValuesListIterable)
            return [new(row, values) for values in cursor.fetchall()]


@cache
def _row_class(names: tuple[str, ...]):
    return namedtuple("Row", names)
