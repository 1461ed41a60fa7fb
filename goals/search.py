"""Finding goals by the words a person types: PostgreSQL full-text search, built in (no extension).

A goal's words are ``goals_search_document(title, description)``: the text folded (lower case,
accents and other combining marks removed, a few letters spelt out: "Æ" is "ae", "ß" is "ss") and
split into words by PostgreSQL's parser, kept in the generated column ``search_document``
(migration 0006). A query is ``goals_search_query(q)``: the same folding and parser applied to
what was typed, each word matched as a word or the start of one, all words required. So "cafe"
finds "Café", and "caf" does too, as the person types.

The rows come from the owner's own index range and are tested against their stored words: a
search reads nothing of other users, not even index entries, and costs at most what the
per-user limit allows (1 ms for a typical user, 4.5 to 6.6 ms for one at the limit, at 1.1 M
goals). A GIN index over everyone's words was measured and not kept: a common word made it
read every user's matches (29 ms for a typical user at 1.1 M goals, growing with the table),
and prepared statements' generic plans cannot tell a common word from a rare one
(docs/DATABASE.md).

The functions are SQL and IMMUTABLE, so the query's words are folded exactly as the goals' were:
one implementation, in the database. (unaccent and pg_trgm are contrib extensions that the
embedded PostgreSQL does not ship and managed services may not allow; docs/DATABASE.md compares.)
"""

from django.contrib.postgres.search import SearchQueryField, SearchVectorField
from django.db.models import BooleanField, CharField, F, Func, Lookup, TextField, Value

FOLD = r"""
CREATE FUNCTION goals_search_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN translate(
        replace(replace(replace(replace(
            regexp_replace(normalize(lower($1), NFD), '[\u0300-\u036f]', '', 'g'),
            'æ', 'ae'), 'œ', 'oe'), 'ß', 'ss'), 'þ', 'th'),
        'øłđħı', 'oldhi');

CREATE FUNCTION goals_search_document(title text, description text) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN to_tsvector(
        'simple'::regconfig, goals_search_fold(coalesce(title, '') || ' ' || coalesce(description, '')));

-- Each word as a prefix ('caf':*), all of them required; quotes and backslashes escaped, so no
-- input is tsquery syntax. No word at all gives NULL, which matches nothing.
CREATE FUNCTION goals_search_query(typed text) RETURNS tsquery
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN (
        SELECT string_agg(
            '''' || replace(replace(lexeme, '\', '\\'), '''', '''''') || ''':*', ' & ')::tsquery
        FROM unnest(to_tsvector('simple'::regconfig, goals_search_fold(typed))));
"""

UNFOLD = """
DROP FUNCTION goals_search_query(text);
DROP FUNCTION goals_search_document(text, text);
DROP FUNCTION goals_search_fold(text);
"""


class SearchDocument(Func):
    """A goal's searchable words (the generated column's expression)."""

    function = "goals_search_document"
    output_field = SearchVectorField()


class SearchQuery(Func):
    function = "goals_search_query"
    output_field = SearchQueryField()


class Once(Func):
    """``(SELECT ...)``: worked out once per query (an InitPlan), not once per row: a generic
    plan cannot fold an IMMUTABLE function of a parameter."""

    template = "(SELECT %(expressions)s)"


class Matches(Func):
    template = "%(expressions)s"
    arg_joiner = " @@ "
    output_field = BooleanField()


def matching(typed: str) -> Matches:
    """The goals whose words match what was typed (a filter: ``queryset.filter(matching(q))``)."""
    return Matches(F("search_document"), Once(SearchQuery(Value(typed))))


@CharField.register_lookup
@TextField.register_lookup
class FoldedContains(Lookup):
    """``title__folded_contains="cafe"``: the text contains what was typed, both folded as a
    search folds them (case and accents aside). For the admin's search, which looks through
    every user's goals: a scan, as Django's ``icontains`` would be, but "cafe" finds "Café"
    there as it does in the API's ``q``."""

    lookup_name = "folded_contains"

    def get_db_prep_lookup(self, value, connection):
        return "%s", [f"%{connection.ops.prep_for_like_query(value)}%"]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"goals_search_fold({lhs}) LIKE goals_search_fold({rhs})", [*lhs_params, *rhs_params]
