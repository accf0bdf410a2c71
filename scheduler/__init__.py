"""The scheduler daemon (`python -m scheduler`): the monthly schedule, run by one leader per database."""

from __future__ import annotations

from sqlalchemy import Engine

from curator import store
from curator.errors import DatabaseError


def open_database(url: str) -> Engine:
    """An engine on a database at the newest migration, or a DatabaseError naming the command that fixes it."""
    engine = store.make_engine(url)
    current, head = store.current_revision(engine), store.head_revision()
    if current != head:
        engine.dispose()
        state = "empty" if current is None else f"at revision {current}"
        raise DatabaseError(
            f"the database is {state}, Curator needs {head}: run `curator db upgrade` before `python -m scheduler`."
        )
    return engine
