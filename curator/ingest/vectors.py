"""Vectors: the embedding and page kind of every item a run stores, worked out in the fetching process.

Parse workers store new items without them and say which they stored (`NewItem`); `Vectors`
gathers those and, a thousand at a time, embeds and classifies them in a thread of its own and
writes them with one executemany. Why here and not in the workers, as before: each worker then
loaded the model and numpy (about 60 MB each, and a second of start-up), so this stage keeps the
model in one process and the workers free of numpy (tests/ingest check both). Items that were
already stored (by URL, GUID or a twin title) never get here: only new items are embedded.

If a run stops before its last batch is written, the items it stored without vectors get them at
the next draft (curator/curate/draft.py, `embed_missing` and `classify_missing`), as items from
before migration 0005 do.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import Engine, bindparam, update

from curator.store.schema import items


@dataclass(frozen=True)
class NewItem:
    """An item a run has just stored: what its embedding and page kind are made of."""

    id: int
    url: str
    title: str
    summary_text: str


def vector_rows(new: list[NewItem]) -> list[dict]:
    """Each item's embedding and page kind, as parameters of `store_vectors`' UPDATE."""
    from curator import embed, pagekind  # numpy and the model: loaded by the first run that stores an item

    vectors = embed.embed([embed.item_text(item.title, item.summary_text) for item in new])
    kinds = pagekind.predict([(item.url, item.title, item.summary_text) for item in new], vectors)
    version = pagekind.version()
    return [
        {"item_id": item.id, "v_embedding": embed.to_bytes(vector), "v_kind": name, "v_confidence": confidence,
         "v_value": value, "v_version": version}
        for item, vector, (name, confidence, value) in zip(new, vectors, kinds, strict=True)
    ]


def store_vectors(engine: Engine, new: list[NewItem]) -> None:
    if not new:
        return
    rows = vector_rows(new)
    statement = update(items).where(items.c.id == bindparam("item_id")).values(
        embedding=bindparam("v_embedding"), kind=bindparam("v_kind"), kind_confidence=bindparam("v_confidence"),
        kind_value=bindparam("v_value"), kind_version=bindparam("v_version"),
    )
    with engine.begin() as conn:
        conn.execute(statement, rows)


class Vectors:
    """The stage: new items wait here until a batch is full; `finish` writes the rest and waits for all."""

    BATCH = 1000  # items embedded and written at once: few transactions, little memory (about 1 MB of vectors)

    def __init__(self, engine: Engine):
        self.engine = engine
        self.pending: list[NewItem] = []
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="curator-vectors")
        self._batches: list[Future] = []

    def add(self, new: list[NewItem]) -> None:
        self.pending += new
        if len(self.pending) >= self.BATCH:
            self._submit()

    def _submit(self) -> None:
        batch, self.pending = self.pending, []
        if batch:
            self._batches.append(self._thread.submit(store_vectors, self.engine, batch))

    def finish(self) -> None:
        """Write what waits, then wait for every batch; raises what a batch raised."""
        self._submit()
        try:
            for batch in self._batches:
                batch.result()
        finally:
            self._thread.shutdown(wait=True, cancel_futures=True)
