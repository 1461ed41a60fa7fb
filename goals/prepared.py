"""Queries of a fixed shape, built with the ORM once and compiled once (speed-up, see
docs/PERFORMANCE.md: building and compiling a query costs more Python time than PostgreSQL takes
to answer it). ``PreparedQuery`` reads; ``PreparedInsert`` is ``objects.create()``,
``PreparedUpdate`` is ``QuerySet.update()`` with ``RETURNING``.

A ``PreparedQuery`` is built through the same queryset methods every other caller uses
(``owned_by``, ``GoalListParams.shown``, ...), with a ``Slot`` where a value changes from one run to
the next. The SQL and its parameters are kept; each run puts its values in the slots' places.
A slot is known by being a ``Slot`` object among the compiled parameters, never by its value,
so no constant of the query can be mistaken for one; its ``name`` says which value goes there.
The rows come back as named tuples, named as the query names its columns.

Writes take values only, as the serializers give them: an ORM expression (``F("title")``,
``Upper(...)``) would need compiling per call, and is refused (``QuerySet.update`` takes it).
"""

from collections import namedtuple
from functools import cache, cached_property, lru_cache

from django.db import connections, router, transaction
from django.db.models import (
    BooleanField,
    DateField,
    DateTimeField,
    Expression,
    F,
    Field,
    Func,
    TimeField,
    UUIDField,
)
from django.db.models.sql import InsertQuery
from django.db.models.sql.subqueries import UpdateQuery
from psycopg import sql


class Slot(Expression):
    """A value of a prepared query, given at each run (``PreparedQuery.rows(name=value)``) and
    sent as is (a primary key, a timestamp: psycopg adapts it). ``output_field``: what the
    value is, for the ORM while it compiles (a UUID unless told)."""

    def __init__(self, name: str, output_field=None):
        super().__init__(output_field=output_field or UUIDField())
        self.name = name

    def as_sql(self, compiler, connection):
        return "%s", [self]

    def value(self, values: dict, connection):
        return values[self.name]


class _Written(Slot):
    """The value a prepared write stores in a field: prepared at each run as ``Model.save()``
    and ``QuerySet.update()`` prepare theirs (``Field.get_db_prep_save``)."""

    def value(self, values: dict, connection):
        value = values[self.name]
        if hasattr(value, "resolve_expression"):
            raise TypeError(f"{self.name}: a prepared write takes a value, not {value!r}")
        return self.output_field.get_db_prep_save(value, connection)


class Differs(Func):
    """For a prepared update's ``WHERE``: true when any of the fields ``names`` holds something
    other than the value the update writes to it (``IS DISTINCT FROM``: NULL is NULL), so a
    write of the values a row already has matches nothing. Its slots are named as the changed
    fields: the update's own values fill them, prepared as they are written."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, model, names: tuple[str, ...]):
        fields = [model._meta.get_field(name) for name in names]
        columns = [F(field.name) for field in fields]
        super().__init__(*columns, *(_Written(field.attname, field) for field in fields))

    def as_sql(self, compiler, connection, **extra):
        expressions = self.get_source_expressions()
        half = len(expressions) // 2
        pieces, params = [], []
        for column, value in zip(expressions[:half], expressions[half:], strict=True):
            column_sql, column_params = compiler.compile(column)
            value_sql, value_params = compiler.compile(value)
            pieces.append(f"{column_sql} IS DISTINCT FROM {value_sql}")
            params.extend([*column_params, *value_params])
        return f"({' OR '.join(pieces)})", params


def _bind(params: list, values: dict, connection) -> list:
    """The parameters of a run: each slot's value in its place, the other parameters as they
    were compiled."""
    return [
        param.value(values, connection) if isinstance(param, Slot) else param for param in params
    ]


class PreparedQuery:
    def __init__(self, build, *, model):
        self._build = build  # () -> QuerySet, with Slots where values change
        self._model = model
        self._row = None  # the named tuple of its rows, made at the first run

    @cached_property
    def _compiled(self) -> tuple[str, list]:
        queryset = self._build()
        return queryset.query.get_compiler(queryset.db).as_sql()

    def rows(self, *, limit: int | None = None, **values) -> list:
        """The query's rows with ``values`` in its slots (and ``LIMIT limit``)."""
        statement, params = self._compiled
        connection = connections[router.db_for_read(self._model)]
        params = _bind(params, values, connection)
        if limit is not None:
            statement = sql.SQL("{} LIMIT %s").format(sql.SQL(statement))
            params.append(limit)
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            # The columns are the statement's own (named in its SELECT list): their names are
            # read once (psycopg makes an object per column for each description: 4 % of a
            # single-goal request).
            row = self._row or self._row_of(cursor)
            new = tuple.__new__  # as Django makes its own named rows (NamedValuesListIterable)
            return [new(row, values) for values in cursor.fetchall()]

    def _row_of(self, cursor):
        self._row = _row_class(tuple(column.name for column in cursor.description))
        return self._row


@cache
def _row_class(names: tuple[str, ...]):
    return namedtuple("Row", names)


class PreparedInsert:
    """``model.objects.create(**values)``: the ORM's own INSERT (``InsertQuery``, ``RETURNING``
    the columns the database fills), compiled once for each set of field names given, with a
    ``Slot`` for each value. Each value is prepared as ``Model.save()`` prepares it
    (``get_db_prep_save``); the instance comes back through ``Model.from_db``, as a query
    would build it. ``values`` are keyed by attribute name (``user_id``, not ``user``).

    What it does not do that ``save()`` does: send ``pre_save``/``post_save`` (nothing listens
    for the models it serves: tests/goals/test_prepared.py), and run a field's ``pre_save`` per
    insert (it runs once, at compile time: a field whose hook does more than read the value,
    ``auto_now`` or a file, is refused). An unknown name is an error, as ``Model()`` makes it.
    ``prefix``: SQL the statement starts with (a comment naming the writer: goals.history)."""

    def __init__(self, model, *, prefix: str = ""):
        self._model = model
        self._prefix = prefix
        self._compiled = cache(self._compile)  # a few sets of names: the writable fields'

    def create(self, **values):
        statement, params, defaults, returning = self._compiled(frozenset(values))
        using = router.db_for_write(self._model)
        connection = connections[using]
        params = _bind(params, values, connection)
        # As save() runs it: an error inside atomic() marks the transaction for rollback.
        with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
            cursor.execute(statement, params)
            returned = zip(returning, cursor.fetchone(), strict=True)
        written = {**defaults, **values, **dict(returned)}
        names = [field.attname for field in self._model._meta.concrete_fields]
        return self._model.from_db(using, names, [written[name] for name in names])

    def _compile(self, names: frozenset) -> tuple[str, list, dict, list[str]]:
        meta = self._model._meta
        returned = meta.db_returning_fields
        inserted = [
            field
            for field in meta.local_concrete_fields
            # As save() leaves out an auto-incremented primary key it is not given.
            if not field.generated and not (field is meta.auto_field and field.attname not in names)
        ]
        unknown = names - {field.attname for field in inserted}
        if unknown:
            raise TypeError(f"{self._model.__name__} has no field {', '.join(sorted(unknown))}")
        slots = {f.attname: _Written(f.attname, f) for f in inserted if f.attname in names}
        template = self._model(**slots)
        # A field not given is written with its default, as the model sets it: fixed once here,
        # so a default that changes (a callable's) must be given each time.
        defaults = {}
        for field in inserted:
            if not _plain(field):
                raise ValueError(f"{field.attname}: its pre_save would run once, not per insert")
            if field.attname not in names and field not in returned:
                if field.has_default() and callable(field.default):
                    raise ValueError(f"{field.attname} has a callable default: give its value")
                defaults[field.attname] = getattr(template, field.attname)
        query = InsertQuery(self._model)
        query.insert_values(inserted, [template])
        compiler = query.get_compiler(router.db_for_write(self._model))
        compiler.returning_fields = returned
        ((statement, params),) = compiler.as_sql()
        statement = self._prefix + statement
        return statement, list(params), defaults, [field.attname for field in returned]


def _plain(field) -> bool:
    """Whether the field's ``pre_save`` only reads the value (it runs once, when the statement
    is compiled): not ``auto_now``/``auto_now_add``, not a file to commit."""
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return False
    return type(field).pre_save in {
        Field.pre_save,
        DateField.pre_save,
        DateTimeField.pre_save,
        TimeField.pre_save,
    }


class PreparedUpdate:
    """``queryset.update(**changes)``, returning the named columns of the row it changed (None
    if no row matched): the ORM's own statement (``QuerySet.update`` builds the same
    ``UpdateQuery``) with a ``RETURNING`` clause, compiled once for each set of changed fields
    and each ``shape`` (the keyword arguments of ``build``). Shapes must take a few values
    each, never one a client chooses (a count of what it sent): the statements kept are the
    latest 256.

    ``RETURNING``: Django 5.2 cannot return values from an update, and reading a trigger's
    ``updated_at`` afterwards would cost a second query and could see a later write.
    ``prefix``: SQL the statement starts with (a comment naming the writer: goals.history)."""

    def __init__(self, build, *, model, returning: tuple[str, ...], prefix: str = ""):
        self._build = build  # (**shape) -> QuerySet, with Slots where values change
        self._model = model
        self._returning = returning
        self._prefix = prefix
        self._compiled = lru_cache(maxsize=256)(self._compile)

    def run(self, changes: dict, *, shape: dict, **values) -> tuple | None:
        if changes.keys() & values.keys():
            raise ValueError(f"slots named as changed fields: {changes.keys() & values.keys()}")
        statement, params = self._compiled(frozenset(changes), tuple(sorted(shape.items())))
        using = router.db_for_write(self._model)
        connection = connections[using]
        params = _bind(params, {**values, **changes}, connection)
        # As QuerySet.update() runs it: an error inside atomic() marks it for rollback.
        with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchone()

    def _compile(self, changed: frozenset, shape: tuple) -> tuple[sql.Composed, list]:
        queryset = self._build(**dict(shape))
        meta = self._model._meta
        query = queryset.query.chain(UpdateQuery)
        query.add_update_values({name: _Written(name, meta.get_field(name)) for name in changed})
        statement, params = query.get_compiler(queryset.db).as_sql()
        columns = [sql.Identifier(meta.get_field(name).column) for name in self._returning]
        returning = sql.SQL(", ").join(columns)
        statement = sql.SQL("{}{} RETURNING {}").format(
            sql.SQL(self._prefix), sql.SQL(statement), returning
        )
        return statement, list(params)
