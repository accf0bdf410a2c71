"""Text embeddings: one small offline model shared by ingest (item vectors) and curate (topic vectors).

The model is wordllama's 256-dimension "l2_supercat", shipped inside its wheel. Its default
loader looks for the tokenizer under ~/.cache and then downloads it, so it is loaded from the
installed package's own folder with downloads disabled: nothing here ever touches the network.

Vectors are L2-normalised float32; stored as float16 bytes (512 bytes an item), so the dot
product of two stored vectors is their cosine similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

DIM = 256
MODEL = "wordllama-l2-supercat-256"  # recorded with every model trained on these vectors
TEXT_CHARS = 1000  # title and the start of the summary say what a page is about; more only costs time


@lru_cache(maxsize=1)
def _model():
    import wordllama
    from wordllama import WordLlama

    folder = Path(wordllama.__file__).resolve().parent
    return WordLlama.load(dim=DIM, cache_dir=folder, disable_download=True)


def item_text(title: str, summary: str) -> str:
    """What an item's vector is made of: its title (twice, it says the most) and summary."""
    return f"{title}. {title}. {summary}"[:TEXT_CHARS]


def embed(texts: Sequence[str]) -> np.ndarray:
    """Unit vectors, one row per text (an empty text gets a zero vector)."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    vectors = np.asarray(_model().embed(list(texts), norm=False), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float16).tobytes()


def from_bytes(blob: bytes | None) -> np.ndarray:
    """A stored vector; a missing one (an item stored before embeddings) is all zeros."""
    if not blob:
        return np.zeros(DIM, dtype=np.float32)
    return np.frombuffer(blob, dtype=np.float16).astype(np.float32)


def stack(blobs: Sequence[bytes | None]) -> np.ndarray:
    """Stored vectors as one matrix, one row per blob."""
    out = np.zeros((len(blobs), DIM), dtype=np.float32)
    for i, blob in enumerate(blobs):
        if blob:
            out[i] = np.frombuffer(blob, dtype=np.float16)
    return out
