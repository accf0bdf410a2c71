"""Readers teach the editors' taste (issue 12): human clicks and "more like this" for, "less like this" against.

Real rows: an issue sent through the SendGrid test server, clicks through the signed redirect
(a scanner's and a person's), votes posted on the feedback page. Weak labels weigh well below
an editor's decision, machines' clicks never count, and new engagement changes the model's
fingerprint so that the scheduler's job retrains it.
"""

from __future__ import annotations

from sqlalchemy import func, select

from curator.curate import taste
from curator.store.schema import clicks, items, picks, taste_models
from tests.engagement.conftest import HUMAN_AGENT, SCANNER_AGENT, age_deliveries, send


def _state(engine) -> tuple[str, list[tuple[str, float, float]]]:
    """The fingerprint, and the readers' weak labels as (title, label, weight)."""
    with engine.connect() as conn:
        weak = [(e.title, e.label, e.weight) for e in taste.examples(conn) if not e.editor]
        return taste.fingerprint(conn), sorted(weak)


def _title(engine, pick_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(
            select(items.c.title).join(picks, picks.c.item_id == items.c.id).where(picks.c.id == pick_id)
        ).scalar_one()


def _pick(copy_link: str) -> int:
    return int(copy_link.split("?")[0].rsplit("/", 1)[1])


def test_human_clicks_and_feedback_are_weak_labels_and_machine_clicks_teach_nothing(sg_settings, engine, sg, client):
    copies = send(sg_settings, engine, sg)  # six approved picks, one per topic, to three readers
    age_deliveries(engine)
    ada, bob, cy = copies.values()
    with engine.begin() as conn:
        first = taste.retrain(conn)
        editors = [e for e in taste.examples(conn) if e.editor]
    assert len(editors) == 6 and all(e.label == 1.0 for e in editors)
    before, weak = _state(engine)
    assert weak == []

    # A scanner opens every link of Ada's copy, and Bob's mail gateway sends a HEAD: machines, no label.
    for link in ada.links("r"):
        assert client.get(ada.path(link), headers={"User-Agent": SCANNER_AGENT}).status_code == 302
    assert client.head(bob.path(bob.links("r")[0]), headers={"User-Agent": HUMAN_AGENT}).status_code == 302
    with engine.connect() as conn:
        machine = conn.execute(select(func.count()).where(clicks.c.human.is_(False))).scalar_one()
    assert machine == 7
    assert _state(engine) == (before, [])

    # Bob and Cy read the first pick (Bob twice: one click), and Ada asks for more of it; Cy wants less of the second.
    liked, disliked = _pick(bob.links("r")[0]), _pick(cy.links("r")[1])
    for reader in (bob, bob, cy):
        link = next(u for u in reader.links("r") if _pick(u) == liked)
        assert client.get(reader.path(link), headers={"User-Agent": HUMAN_AGENT}).status_code == 302
    more = next(u for u in ada.links("f") if _pick(u) == liked and u.endswith("vote=more"))
    less = next(u for u in cy.links("f") if _pick(u) == disliked and u.endswith("vote=less"))
    for reader, link, vote in ((ada, more, "more"), (cy, less, "less")):
        token = reader.path(link).split("/f/")[1].split("?")[0]
        assert client.post(f"/f/{token}", data={"vote": vote}).status_code == 200

    after, weak = _state(engine)
    assert after != before  # new engagement: the scheduler's job will retrain
    two_clicks_and_more = 2 * taste.READERS["clicks"] + taste.READERS["more"]
    assert weak == sorted([
        (_title(engine, liked), 1.0, two_clicks_and_more),
        (_title(engine, disliked), 0.0, taste.READERS["less"]),
    ])
    assert all(w <= taste.READERS_CAP < taste.WEIGHTS["approved"] for _, _, w in weak)

    with engine.begin() as conn:
        second = taste.retrain(conn)
        assert taste.retrain(conn) == second  # nothing new since: no new version
        model = taste.Model.from_bytes(
            conn.execute(select(taste_models.c.model).where(taste_models.c.version == second)).scalar_one(), second
        )
    assert second == first + 1
    # The editors approved all six: the readers' "less like this" is the only negative, and a model learns.
    assert (model.decisions, model.signals) == (6, 2)
