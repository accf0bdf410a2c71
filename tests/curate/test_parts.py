"""Each part of a score on its own: embeddings, semantic, kind, reputation, freshness, taste, and their sum."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from curator import embed
from curator.curate import freshness, kind, readers, reputation, semantic, taste
from curator.curate.lexical import Doc
from curator.curate.score import ADDITIVE, Context, explain, score_items, total
from curator.sources import Topic

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CAREER = Topic(name="career", description="Getting hired, growing in a role, being paid fairly.",
               keywords=["career", "interview", "salary"],
               examples=["How to negotiate a job offer", "Preparing for a software engineering interview"],
               counter_examples=["We are hiring: apply now for this position"])
PRODUCTIVITY = Topic(name="productivity", description="Focused, sustainable work; planning and attention.",
                     keywords=["productivity", "focus", "deep work"],
                     examples=["Time blocking: planning a week of focused work"])


def doc(id: int, title: str, summary: str, url: str = "", feed: int | None = 1, days: float = 1) -> Doc:
    vector = embed.to_bytes(embed.embed([embed.item_text(title, summary)])[0])
    url = url or f"https://blog.example.org/{id}"
    return Doc(id, title, summary, NOW - timedelta(days=days), feed, "", url, vector)


def context(**changes) -> Context:
    base = {"now": NOW, "half_life_days": 14.0, "source_weights": {}, "decisions": {}}
    return Context(**{**base, **changes})


# --- embeddings --------------------------------------------------------------------------


def test_the_embedding_model_loads_from_the_package_and_touches_no_network(tmp_path):
    # An audit hook sees every name lookup and connection the interpreter makes; HOME is empty, so no cache helps.
    # (A local socket pair made by an import is not the network: only lookups and outgoing traffic count.)
    script = textwrap.dedent("""
        import sys
        seen = []
        NETWORK = {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto", "socket.sendmsg"}
        sys.addaudithook(lambda event, args: seen.append((event, args)) if event in NETWORK else None)
        from curator import embed
        v = embed.embed(["How to negotiate a salary", ""])
        print(v.shape, round(float((v[0] ** 2).sum()), 3), float(abs(v[1]).sum()), seen)
    """)
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "0"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(2, 256) 1.0 0.0 []"


def test_vectors_round_trip_through_storage_as_half_floats():
    v = embed.embed(["Code review done well"])[0]
    back = embed.from_bytes(embed.to_bytes(v))
    assert len(embed.to_bytes(v)) == 512 and float(back @ v) > 0.999
    assert not embed.from_bytes(None).any() and embed.stack([None, embed.to_bytes(v)]).shape == (2, 256)


def test_vectors_are_wordllamas_own_bit_for_bit_though_tokenized_word_by_word():
    # embed.Tokens tokenizes word by word with a cache; wordllama's embed runs BPE over the whole text.
    import json
    from pathlib import Path

    import wordllama

    reference = wordllama.WordLlama.load(dim=256, cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    corpus = Path(__file__).resolve().parents[2] / "bench" / "data" / "curation" / "pages-corpus-a.jsonl"
    pages = [json.loads(line) for line in corpus.read_text().splitlines()[:300]]
    texts = [embed.item_text(p["title"], p.get("summary", "")) for p in pages]
    texts += ["", " ", "  two leading", "trailing  ", "a  b   c", "tab\tand\nnew line", "x▁y ▁▁z", "C++ and   Rust",
              "<s> opens </s>", "a<unk>b", " <s>x", "a <s> b", "emoji 🎉 naïve café 東京", "\x01", "\u2003wide"]
    pieces = ["ab", " ", "▁", "é", "🎉", "\t", "<s>", "</s>", "<unk>", "x", "  ", "<", "s>"]
    rng = np.random.default_rng(7)
    texts += ["".join(rng.choice(pieces, size=int(rng.integers(0, 20)))) for _ in range(500)]
    want = [[i for i, m in zip(e.ids, e.attention_mask, strict=True) if m] for e in reference.tokenize(texts)]
    assert embed._model().tokens.ids(texts) == want
    expected = reference.embed(texts)
    norms = np.linalg.norm(expected, axis=1, keepdims=True)
    expected = np.divide(expected, norms, out=np.zeros_like(expected), where=norms > 0)
    assert np.array_equal(embed.embed(texts), expected)

    small = embed.Tokens(embed._package_file(embed.TOKENIZER))
    small.MAX_CACHED = 50  # emptied again and again: the ids stay the tokenizer's
    assert [small.ids([text])[0] for text in texts[:200]] == want[:200]


def test_the_token_table_reads_only_the_rows_texts_use_and_they_are_the_files_own():
    from safetensors.numpy import load_file

    table = embed.Table(embed._package_file(embed.WEIGHTS))
    whole = load_file(embed._package_file(embed.WEIGHTS))["embedding.weight"].astype(np.float32)
    ids = np.array([5, 31999, 5, 1200, 0], dtype=np.intp)
    table.ensure(ids)
    table.ensure(ids[:2])  # already read: nothing more
    assert np.array_equal(table.rows[ids], whole[ids]) and table.rows[ids].dtype == np.float32
    assert sorted(np.flatnonzero(table._read)) == [0, 5, 1200, 31999] and not table.rows[1].any()


# --- semantic ----------------------------------------------------------------------------


def test_meaning_finds_a_topic_without_its_words_and_counter_examples_push_down():
    meaning = semantic.topic_meaning([CAREER, PRODUCTIVITY])
    texts = ["Time blocking your calendar so mornings stay free for hard problems",
             "Golf club opens a new eighteen-hole course by the lake"]
    sims = semantic.similarities(embed.embed(texts), meaning)
    assert sims.topic[0, 1] > sims.topic[0, 0]  # productivity, though it says neither "focus" nor "deep work"
    assert sims.topic[0, 1] > sims.topic[1, 1]
    assert semantic.part(0.4, 0.0, 0.0) > semantic.part(0.4, 0.6, 0.0)  # a closer counter-example costs
    assert semantic.part(0.4, 0.0, 0.0) > semantic.part(0.4, 0.0, 0.6)  # so does a closer other topic
    assert "closer to “x”" in semantic.words(0.2, 0.5, "x", 0.0, "Career")


# --- kind --------------------------------------------------------------------------------


def test_the_kind_model_is_shipped_versioned_and_loaded_once():
    first = kind.model()
    assert first is kind.model() and first.version.startswith("kind-")
    assert set(first.classes) >= {"article", "job_posting", "release_notes"}
    assert kind.MODEL_FILE.stat().st_size < 200_000


def test_a_job_posting_and_release_notes_are_worth_far_less_than_an_article():
    rows = [
        ("https://jobs.example.com/jobs/senior-engineer-123", "Senior Software Engineer - Apply now",
         "We are hiring a senior engineer. Competitive salary and benefits; apply today."),
        ("https://github.com/acme/lib/releases/tag/v2.3.1", "Release v2.3.1", "Changelog: bug fixes and updates."),
        ("https://blog.example.org/posts/code-review", "What a good code review looks like",
         "How reviewers and authors can make code review faster and kinder, with examples from our team."),
    ]
    vectors = embed.embed([embed.item_text(t, s) for _, t, s in rows])
    job, release, article = kind.classify(rows, vectors)
    assert job.name == "job_posting" and release.name == "release_notes" and article.name in kind.RESOURCES
    assert job.value <= article.value - 3 and release.value <= article.value - 3
    assert "job posting" in job.words()


def test_thin_items_are_marked_and_penalised_not_dropped():
    assert kind.is_thin("my-first-post", "some text", "https://x.example/my-first-post")
    assert kind.is_thin("A real title", "", "https://x.example/a")
    assert not kind.is_thin("A real title", "A summary.", "https://x.example/a")
    rows = [("https://x.example/a", "Debugging a memory leak", ""),
            ("https://x.example/b", "Debugging a memory leak", "How we found a leak in our service with heap dumps.")]
    thin, full = kind.classify(rows, embed.embed([embed.item_text(t, s) for _, t, s in rows]))
    assert thin.thin and not full.thin and thin.value < full.value and "thin" in thin.words()


# --- reputation, freshness ---------------------------------------------------------------


def test_reputation_is_a_smoothed_approval_rate():
    assert reputation.part(0, 0) == 0.0
    assert 0 < reputation.part(1, 0) < reputation.part(5, 0) < reputation.SCALE / 2
    assert reputation.part(0, 3) < 0 and reputation.part(2, 2) == 0.0
    assert reputation.words(3, 1) == "source: 3 approved, 1 rejected before"


def test_freshness_halves_every_half_life():
    assert [freshness.part(NOW - timedelta(days=d), NOW, 14) for d in (0, 14, 28)] == [1.0, 0.5, 0.25]
    assert freshness.part(NOW + timedelta(days=1), NOW, 14) == 1.0  # a future date is new, not fresher


# --- taste -------------------------------------------------------------------------------


def _examples(texts_labels):
    vectors = embed.embed([t for t, _ in texts_labels])
    return [taste.Example(v, "article", 1, float(label), 1.0, t) for v, (t, label) in zip(vectors, texts_labels,
                                                                                          strict=True)]


def test_taste_learns_what_editors_approve_and_says_why():
    found = _examples([
        ("Negotiating a raise with your manager", 1), ("Preparing for a staff engineer interview", 1),
        ("Writing a resume for a career change", 1), ("Getting promoted to senior engineer", 1),
        ("Celebrity gossip of the week", 0), ("Crypto coin price prediction", 0),
        ("Horoscope for developers", 0), ("Luxury watches on sale", 0),
    ])
    assert taste.fit(found[:3]) is None  # too few decisions, and of one kind only
    model = taste.fit(found)
    assert model is not None and model.decisions == 8
    back = taste.Model.from_bytes(model.to_bytes(), version=3)
    scorer = taste.Taste(back, found)
    values, words = scorer(embed.embed(["How to negotiate your salary offer", "Top ten celebrity outfits"]),
                           [1, 1], ["article", "article"], [CAREER, PRODUCTIVITY])
    assert values[0][0] > 0 > values[1][0]
    assert values[0][0] == values[0][1]  # no decision was made in a topic: the same in every topic
    assert abs(values[0][0]) < taste.SCALE  # eight decisions are not full confidence
    assert words[0][0].startswith("like ") and "you approved" in words[0][0] and "v3" in words[0][0]


# --- readers -----------------------------------------------------------------------------


def test_readers_interest_is_a_part_per_source_and_kind_with_the_figures_in_words():
    counts = readers.ReaderCounts
    docs = [doc(1, "How to negotiate your salary at the interview", "Scripts for the recruiter call."),
            doc(2, "Negotiating a salary offer after the interview", "What to say to the recruiter.", feed=2),
            doc(3, "Interview and salary questions answered", "A career guide.", feed=7)]
    kinds = {s.parts["page_kind"] for s in score_items(docs, [CAREER], context())}
    interest = readers.Readers.of(
        {1: counts(delivered=300, clicks=60, more=4), 2: counts(delivered=300, clicks=6, less=3)},
        {name: counts(delivered=600, clicks=66, more=4, less=3) for name in kinds},
    )
    scores = {s.item_id: s for s in score_items(docs, [CAREER], context(readers=interest))}
    loved, ignored, new = scores[1], scores[2], scores[3]
    assert loved.parts["readers"] > 0 > ignored.parts["readers"]
    assert all(s.score == total(s.parts) for s in scores.values())
    loved_kind = loved.parts["page_kind"].replace("_", " ")
    assert loved.words["readers"].startswith(
        "source: liked: readers clicked 60 of 300 delivered picks (20.0%, against 11.0% overall); "
        f"4 asked for more like this, 0 for less — kind ({loved_kind}): about average: ")
    assert "readers clicked 6 of 300" in ignored.words["readers"]
    # A source nobody read yet gets its kind's interest only, not a penalty.
    kind_only = interest.by_kind[new.parts["page_kind"]]
    assert new.parts["readers"] == round(readers.SCALE * kind_only.value, 3)
    assert new.words["readers"] == f"kind ({new.parts['page_kind'].replace('_', ' ')}): {kind_only.words}"
    explained = explain({**loved.parts, "words": loved.words})
    assert f" · readers +{round(loved.parts['readers'], 2):g} (source: liked: readers clicked 60 of 300" in explained


def test_without_readers_data_the_part_is_zero_and_says_so():
    (s,) = score_items([doc(1, "Career interview notes", "Salary talk.")], [CAREER], context())
    assert s.parts["readers"] == 0.0 and s.words["readers"] == "no readers' data yet: neutral"
    assert "readers" not in explain({**s.parts, "words": s.words})


def test_readers_can_never_outweigh_the_step_from_a_resource_to_a_distractor():
    # The most two candidates can move apart is 2 x SCALE: less than any resource kind's lead over any other kind.
    resources = [kind.VALUES[name] for name in kind.RESOURCES]
    distractors = [value for name, value in kind.VALUES.items() if name not in kind.RESOURCES]
    assert min(resources) - max(distractors) > 2 * readers.SCALE
    best = readers.ReaderCounts(delivered=10**6, clicks=10**6, more=10**5)
    worst = readers.ReaderCounts(delivered=10**6, less=10**5)
    extremes = [readers.Readers.of({1: c}, {}).part(1, "article")[0] for c in (best, worst)]
    assert -readers.SCALE <= min(extremes) < 0 < max(extremes) <= readers.SCALE


# --- the sum -----------------------------------------------------------------------------


def test_the_parts_add_up_to_the_score_and_each_has_words():
    docs = [
        doc(1, "How to negotiate your salary at the interview", "Scripts for the recruiter call and the offer."),
        doc(2, "Time blocking for deep work", "Planning mornings for focus and avoiding burnout.", feed=2),
        doc(3, "Golf club opens new course", "The eighteen-hole course opens to members.", feed=None),
    ]
    scores = score_items(docs, [CAREER, PRODUCTIVITY], context(source_weights={2: 1.5}, decisions={1: (3, 1)}))
    assert scores
    for s in scores:
        assert set(ADDITIVE) <= set(s.parts) and s.score == total(s.parts)
        assert abs(s.score - sum(s.parts[name] for name in ADDITIVE)) < 1e-6
        assert set(ADDITIVE) - {"taste"} <= set(s.words)
        explained = explain({**s.parts, "words": s.words})
        assert "lexical" in explained and "kind" in explained and "matched:" in explained
    got = {(s.item_id, s.topic): s for s in scores}
    assert got[(1, "career")].parts["reputation"] > 0 and got[(1, "career")].parts["matched"]
    assert got[(2, "productivity")].parts["source_weight"] == 1.5
    assert got[(1, "career")].score > got.get((3, "career"), got[(1, "career")])._replace(score=-99).score


def test_an_exclusion_keyword_keeps_an_item_out_of_that_topic_even_by_meaning():
    topic = CAREER.model_copy(update={"exclude": ["sponsored"]})
    scores = score_items([doc(1, "Sponsored: negotiate your salary", "A career interview guide.")], [topic],
                         context())
    assert scores == []


def test_an_item_stored_without_a_vector_scores_by_its_words_alone():
    bare = doc(1, "Career interview notes", "Salary talk.")._replace(vector=None)
    (s,) = score_items([bare], [CAREER], context())
    assert s.parts["semantic"] == 0.0 and s.words["semantic"] == "no vector stored"


@pytest.mark.parametrize("value", [np.float32(0.5)])
def test_taste_part_grows_with_decisions(value):
    assert taste.part(0.9, 5) < taste.part(0.9, 50) < taste.SCALE and taste.part(float(value), 50) == 0.0
