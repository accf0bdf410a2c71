"""SQL that differs by database: a JSON list of topics joined into one string."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class joined_topics(FunctionElement):  # noqa: N801 - reads as the SQL function it stands for
    """A JSON array (a column, or its text) as its elements joined by ",", in array order; "" when empty."""

    type = String()
    inherit_cache = True
    name = "joined_topics"


@compiles(joined_topics, "sqlite")
def _sqlite(element, compiler, **kw) -> str:
    column = compiler.process(element.clauses, **kw)
    # The ordered subquery fixes the order group_concat sees (SQLite < 3.44 has no ORDER BY in it).
    return (
        "coalesce((SELECT group_concat(t.value, ',') FROM "
        f"(SELECT value FROM json_each({column}) ORDER BY key) AS t), '')"
    )


@compiles(joined_topics, "postgresql")
def _postgresql(element, compiler, **kw) -> str:
    column = compiler.process(element.clauses, **kw)
    # The cast lets it take the list as text too (json to json changes nothing).
    return (
        "coalesce((SELECT string_agg(t.value, ',' ORDER BY t.n) FROM "
        f"json_array_elements_text(CAST({column} AS JSON)) WITH ORDINALITY AS t(value, n)), '')"
    )
