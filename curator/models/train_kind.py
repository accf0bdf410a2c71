"""Train the page-kind classifier on the train part of the labelled corpus; write models/kind.npz.

    python -m curator.models.train_kind [--report-test]

Run from a checkout (the corpus lives in bench/data/curation/, not in the package). Needs
scikit-learn (the test extra); the model it writes is read with numpy alone. Thin pages are
trained without their excerpt, as their feeds give none. `--report-test` prints the accuracy
on the test part (never used to choose anything) and records it in models/kind.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from curator import embed
from curator import pagekind as kind

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
C = 0.5  # regularisation: chosen by 5-fold cross-validation on the train part


def pages(part: str) -> list[dict]:
    """The corpus's pages of one part: train, test, or fit and dev (the train part cut in two, by source)."""
    sys.path.insert(0, str(ROOT))
    from bench.curation_quality import in_part, load_corpus, split_sides

    corpus = load_corpus()
    side = split_sides(corpus, update=False)
    return [p for p in corpus if in_part(p, side, part)]


def matrix(rows: list[dict]) -> tuple[np.ndarray, list[str]]:
    texts = [(p["url"], p["title"], "" if p["kind"] == "thin_page" else p["summary"]) for p in rows]
    vectors = embed.embed([embed.item_text(t, s) for _, t, s in texts])
    x = np.stack([kind.features(u, t, s, v) for (u, t, s), v in zip(texts, vectors, strict=True)])
    return x, [p["kind"] for p in rows]


def fit(x: np.ndarray, y: list[str], c: float = C):
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    clf = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    clf.fit((x - mean) / scale, y)
    return clf, mean, scale


def cross_validate(x: np.ndarray, y: list[str]) -> None:
    from sklearn.model_selection import StratifiedKFold

    labels = np.array(y)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    for c in (0.05, 0.1, 0.2, 0.5, 1.0):
        right = []
        for train, test in folds.split(x, [k if Counter(y)[k] >= 5 else "other" for k in y]):
            clf, mean, scale = fit(x[train], list(labels[train]), c)
            right.append(np.mean(clf.predict((x[test] - mean) / scale) == labels[test]))
        print(f"C={c}: cross-validated accuracy {np.mean(right):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report-test", action="store_true", help="print and record the test part's accuracy")
    parser.add_argument("--cv", action="store_true", help="cross-validate C on the train part")
    parser.add_argument("--dev", action="store_true",
                        help="train on the fit part only, to measure the pipeline on the dev part (development)")
    args = parser.parse_args()
    train = pages("fit" if args.dev else "train")
    x, y = matrix(train)
    if args.cv:
        cross_validate(x, y)
    clf, mean, scale = fit(x, y)
    version = f"kind-{datetime.now(UTC):%Y%m%d}-{len(train)}"
    np.savez_compressed(
        HERE / "kind.npz", version=version, classes=np.array(clf.classes_), features=np.array(
            [f"emb{i}" for i in range(embed.DIM)] + kind.cue_names()),
        mean=mean.astype(np.float32), scale=scale.astype(np.float32),
        coef=clf.coef_.astype(np.float32), intercept=clf.intercept_.astype(np.float32),
    )
    kind.model.cache_clear()
    kind.version.cache_clear()
    report = {"version": version, "embedding": embed.MODEL, "train_pages": len(train), "train_kinds": Counter(y)}
    print(f"wrote {HERE / 'kind.npz'} ({version}, {len(train)} train pages)")
    if args.report_test:
        test = pages("test")
        tx, ty = matrix(test)
        probs = kind.model().probabilities(tx)
        predicted = [kind.model().classes[i] for i in probs.argmax(axis=1)]
        accuracy = float(np.mean([p == t for p, t in zip(predicted, ty, strict=True)]))
        pairs = list(zip(predicted, ty, strict=True))
        resource = float(np.mean([(p in kind.RESOURCES) == (t in kind.RESOURCES) for p, t in pairs]))
        report.update(test_pages=len(test), test_accuracy=round(accuracy, 3), test_resource_accuracy=round(resource, 3))
        print(f"test part: accuracy {accuracy:.3f} over {len(test)} pages; resource or not: {resource:.3f}")
    (HERE / "kind.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
