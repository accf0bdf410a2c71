"""The database: migrations, the currency check, and the invariants it carries."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from curator import store
from curator.errors import DatabaseError
from curator.store import schema
from curator.store.schema import feeds, now


def test_upgrade_twice_is_a_no_op(db_url):
    engine = store.make_engine(db_url)
    before, after = store.upgrade(engine)
    engine.dispose()
    assert before == after == store.head_revision()
    store.open_db(db_url).dispose()


def test_empty_database_is_refused_with_the_command_that_fixes_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    (tmp_path / "empty.db").touch()
    with pytest.raises(DatabaseError, match=r"run `curator db upgrade` before `curator ingest`"):
        store.open_db(url, command_name="ingest")


def test_a_missing_sqlite_file_is_named_and_not_created(tmp_path):
    url = f"sqlite:///{tmp_path / 'typo' / 'curator.db'}"
    with pytest.raises(DatabaseError, match=r"there is no database at .*typo/curator.db: run `curator db upgrade`"):
        store.open_db(url)
    assert not (tmp_path / "typo").exists()


def test_an_unsupported_database_is_named():
    with pytest.raises(DatabaseError, match="Curator runs on SQLite .* or PostgreSQL"):
        store.make_engine("mysql://root@localhost/news")


def test_a_bad_url_is_named():
    with pytest.raises(DatabaseError, match="not a database URL"):
        store.make_engine("no-such-scheme")


def test_sqlite_runs_in_wal_mode(tmp_path):
    engine = store.make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_one_item_per_canonical_url(engine):
    row = dict(url="https://a.example/x", title="x", published_at=now())
    with engine.begin() as conn:
        conn.execute(insert(schema.items), {**row, "canonical_url": "https://a.example/x"})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(schema.items), {**row, "canonical_url": "https://a.example/x"})


def test_issue_status_is_checked_by_the_database(engine):
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(schema.issues), {"period": "2026-12", "status": "bogus"})


def test_times_come_back_aware_utc(engine):
    stamp = now()
    with engine.begin() as conn:
        conn.execute(insert(schema.issues), {"period": "2026-12", "created_at": stamp})
        got = conn.execute(select(schema.issues.c.created_at)).scalar_one()
    assert got == stamp.replace(microsecond=got.microsecond) and got.utcoffset().total_seconds() == 0


def test_the_migrations_build_exactly_the_declared_schema(engine):
    """schema.py and the migrations never drift: a change to one needs a revision in the other."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    assert diff == []


def test_a_read_only_connection_reads_beside_a_writer_on_sqlite(tmp_path):
    """Every other transaction takes SQLite's write lock at BEGIN; one marked read_only does not wait for it."""
    engine = store.make_engine(f"sqlite:///{tmp_path}/c.db")
    store.upgrade(engine)
    with engine.begin() as writer:
        writer.execute(insert(feeds).values(url="https://a.example/feed.xml", title="A"))
        with engine.connect() as reader:
            reader.execution_options(read_only=True)
            # The writer holds the lock: a BEGIN IMMEDIATE here would wait for it (busy_timeout, 30 s).
            assert reader.execute(select(func.count()).select_from(feeds)).scalar_one() == 0  # its own snapshot
    with engine.connect() as reader:
        reader.execution_options(read_only=True)
        assert reader.execute(select(func.count()).select_from(feeds)).scalar_one() == 1


def test_a_writer_tries_for_the_lock_until_its_timeout_then_says_the_database_is_locked(tmp_path, monkeypatch):
    """SQLite writers poll for the write lock in short tries (see store._sqlite_begin), within the busy timeout."""
    from sqlalchemy.exc import OperationalError

    engine = store.make_engine(f"sqlite:///{tmp_path}/l.db")
    store.upgrade(engine)
    monkeypatch.setattr(store, "BUSY_TIMEOUT_S", 0.2)
    with engine.begin() as holder:
        holder.execute(insert(feeds).values(url="https://a.example/feed.xml", title="A"))
        with pytest.raises(OperationalError, match="locked"), engine.begin() as other:
            other.execute(insert(feeds).values(url="https://b.example/feed.xml", title="B"))
    with engine.begin() as other:  # the lock is free again: the next writer gets it at once
        other.execute(insert(feeds).values(url="https://b.example/feed.xml", title="B"))
        assert other.exec_driver_sql("PRAGMA busy_timeout").scalar() == 200  # restored after the tries
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(feeds)).scalar_one() == 2
