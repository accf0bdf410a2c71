"""Readers' interest: smoothed, with a prior, so a new source is neutral and evidence moves it."""

from __future__ import annotations

from curator.curate.readers import (
    NONE,
    SCALE,
    Interest,
    ReaderCounts,
    Readers,
    baseline_rate,
    combine,
    figures_words,
    interest_by,
    readers_interest,
)


def test_a_new_source_is_neutral_not_punished():
    interest = readers_interest(ReaderCounts(), baseline=0.05)
    assert interest == Interest(0.0, "no readers' data yet: neutral", 0.0, 0.0)


def test_no_clicks_anywhere_is_neutral():
    assert readers_interest(ReaderCounts(delivered=500), baseline=0.0).value == 0.0


def test_more_clicks_than_usual_scores_above_zero_and_fewer_below():
    counts = {
        "loved": ReaderCounts(delivered=1000, clicks=100),
        "ignored": ReaderCounts(delivered=1000, clicks=5),
        "usual": ReaderCounts(delivered=1000, clicks=45),
    }
    assert baseline_rate(counts) == 150 / 3000
    found = interest_by(counts)
    assert found["loved"].value > 0.2 > found["usual"].value > -0.1 > found["ignored"].value
    assert found["loved"].words.startswith("liked: readers clicked 100 of 1000 delivered picks (10.0%, against 5.0%")
    assert found["ignored"].words.startswith("passed over:")


def test_the_prior_keeps_little_evidence_from_swinging_far():
    lucky = readers_interest(ReaderCounts(delivered=10, clicks=5), baseline=0.05)  # 50% on ten deliveries
    proven = readers_interest(ReaderCounts(delivered=2000, clicks=1000), baseline=0.05)
    assert 0 < lucky.value < proven.value
    assert lucky.click_lift == round((5 + 200 * 0.05) / 210 / 0.05 - 1, 4)


def test_feedback_counts_and_one_vote_does_not_decide():
    one = readers_interest(ReaderCounts(less=1), baseline=0.05)
    many = readers_interest(ReaderCounts(less=40), baseline=0.05)
    assert one.feedback == round(-1 / 6, 4) and many.feedback == round(-40 / 45, 4)
    assert many.value < one.value < 0
    assert one.words == "about average: 0 asked for more like this, 1 for less"
    assert readers_interest(ReaderCounts(more=40), baseline=0.05).value > 0.3


def test_the_value_stays_between_minus_one_and_one():
    for counts in (ReaderCounts(delivered=10**6, clicks=10**6, more=10**4), ReaderCounts(delivered=10**6, less=10**4)):
        assert -1 <= readers_interest(counts, baseline=0.01).value <= 1


def test_combine_averages_source_and_kind():
    a, b = Interest(0.4, "source: liked"), Interest(-0.2, "kind: passed over")
    assert combine(a, b) == Interest(0.1, "source: liked; kind: passed over")
    assert combine(None).value == 0.0


def test_the_score_part_is_the_mean_of_source_and_kind_scaled_and_a_stranger_is_neutral():
    found = Readers.of(
        {1: ReaderCounts(delivered=1000, clicks=100), 2: ReaderCounts(delivered=1000, clicks=5)},
        {"tutorial": ReaderCounts(delivered=2000, clicks=105, more=2)},
    )
    loved, tutorial = found.by_source[1], found.by_kind["tutorial"]
    value, words = found.part(1, "tutorial")
    assert value == round(SCALE * round((loved.value + tutorial.value) / 2, 4), 3)
    assert words == f"source: {loved.words} — kind (tutorial): {tutorial.words}"
    assert found.part(1, "job_posting") == (round(SCALE * loved.value, 3), f"source: {loved.words}")
    assert found.part(None, "essay") == found.part(9, "essay") == (0.0, NONE)


def test_the_desk_line_names_the_figures():
    assert figures_words(ReaderCounts(delivered=340, clicks=12, more=3, less=1), 0.021) == (
        "12 of 340 delivered picks clicked (3.5%, against 2.1% overall) · 3 more, 1 less like this"
    )
    assert figures_words(ReaderCounts(less=2), 0.0) == "0 more, 2 less like this"
    assert figures_words(None, 0.05) == figures_words(ReaderCounts(), 0.05) == "no readers' data yet"
