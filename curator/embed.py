"""Text embeddings: one small offline model shared by ingest (item vectors) and curate (topic vectors).

The model is wordllama's 256-dimension "l2_supercat", shipped inside its wheel: a table of token
vectors and a tokenizer. wordllama's own loader looks for the tokenizer under ~/.cache and then
downloads it, so both files are read here from the installed package's folder: nothing here ever
touches the network.

A text's vector is the mean of its tokens' vectors, as wordllama's `embed` computes it (tests check
it is the same, bit for bit), but the tokens are found word by word with a cache (`Tokens`): the
tokenizer has no pre-tokenizer, so it ran BPE over each 1,000-character text as one word, which
was two thirds of the cost of embedding an item at ingest.

Vectors are L2-normalised float32; stored as float16 bytes (512 bytes an item), so the dot
product of two stored vectors is their cosine similarity.
"""

from __future__ import annotations

import importlib.util
import json
import mmap
import os
import re
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from pathlib import Path

import numpy as np

DIM = 256
MODEL = "wordllama-l2-supercat-256"  # recorded with every model trained on these vectors
TEXT_CHARS = 1000  # title and the start of the summary say what a page is about; more only costs time
BATCH = 256  # texts tokenized at once: bounds the token ids held in memory
WEIGHTS = "weights/l2_supercat_256.safetensors"
TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"


def _package_file(name: str) -> Path:
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedding model's package, wordllama, is not installed: reinstall Curator")
    path = Path(spec.submodule_search_locations[0]) / name
    if not path.is_file():
        raise RuntimeError(f"the embedding model's file {path} is missing: reinstall wordllama")
    return path


class Tokens:
    """A text's token ids, as the model's tokenizer gives them, found word by word with a cache.

    The tokenizer's normalizer writes each space as "▁" and puts one before the text (before each
    part of it between special tokens such as "<s>", which are matched first). BPE then never
    merges across the start of a run of "▁" that follows another character, since no token of the
    vocabulary has a "▁" after another character (checked when loading); so each such piece
    (`_PIECE`) is tokenized alone, once, and remembered: the words of feeds repeat.
    """

    MAX_CACHED = 100_000  # pieces remembered; a long-running daemon starts afresh past this

    _PIECE = re.compile("▁+[^▁]*")

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        self.bpe = Tokenizer.from_file(str(path))
        self.bpe.normalizer = None  # done here, piece by piece
        self.bpe.no_padding()
        self.bpe.no_truncation()
        joined = [t for t in self.bpe.get_vocab() if "▁" in t.lstrip("▁")]
        if joined:
            raise RuntimeError(f"the tokenizer {path} has tokens that join a word to the next ({joined[:3]}): "
                               "tokenizing word by word would change its vectors")
        self.special = {t.content: t_id for t_id, t in self.bpe.get_added_tokens_decoder().items()}
        self._split = re.compile("(" + "|".join(map(re.escape, self.special)) + ")") if self.special else None
        self.cache: dict[str, list[int]] = {}

    def _pieces(self, text: str) -> list[str | int]:
        """A text's pieces to tokenize, and the ids of the special tokens among them, in order."""
        parts = self._split.split(text) if self._split and "<" in text else [text]
        out: list[str | int] = []
        for n, part in enumerate(parts):
            if n % 2:
                out.append(self.special[part])
            elif part:
                out += self._PIECE.findall("▁" + part.replace(" ", "▁"))
        return out

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        pieces = [self._pieces(text) for text in texts]
        missing = [p for p in set(chain.from_iterable(pieces)).difference(self.cache) if isinstance(p, str)]
        if missing:
            if len(self.cache) + len(missing) > self.MAX_CACHED:
                self.cache.clear()
            encoded = self.bpe.encode_batch(missing, add_special_tokens=False)
            self.cache.update(zip(missing, (e.ids for e in encoded), strict=True))
        out = []
        for found in pieces:
            ids: list[int] = []
            for piece in found:
                if isinstance(piece, int):
                    ids.append(piece)
                    continue
                known = self.cache.get(piece)
                if known is None:  # another thread (a draft beside an ingest) emptied the cache meanwhile
                    known = self.cache[piece] = self.bpe.encode(piece, add_special_tokens=False).ids
                ids += known
            out.append(ids)
        return out


class Table:
    """The model's token vectors as float32, each row read from the weights file the first time a text uses it.

    The file holds float16 (16 MB); the whole table as float32 is 32 MB, of which a run's texts use
    a small part: rows are read (`os.pread`, so no file page stays mapped) and converted as they
    are first needed, into zeroed memory whose untouched pages the kernel never allocates. A
    float16 value converts to float32 exactly, so the vectors are those of the whole table, bit
    for bit; summing float16 rows on the fly instead was five times slower than float32 rows.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        with path.open("rb") as file:
            (size,) = struct.unpack("<Q", file.read(8))
            header = json.loads(file.read(size))
            length = file.seek(0, 2)
        weight = header.get("embedding.weight") or {}
        start, end = weight.get("data_offsets") or (0, 0)
        rows, dim = weight.get("shape") or (0, 0)
        self.offset, self.row_bytes = 8 + size + start, dim * 2
        if weight.get("dtype") != "F16" or dim != DIM or end - start != rows * dim * 2 or self.offset + rows * \
                self.row_bytes > length:
            raise RuntimeError(f"the embedding model's file {path} is not the float16 table expected: "
                               "reinstall wordllama")
        # Anonymous memory: zeroed, each 4 KB page allocated when a row in it is first written.
        # (np.zeros would advise huge pages: 2 MB allocated at each first touch.)
        self._memory = mmap.mmap(-1, rows * dim * 4)
        self.rows = np.frombuffer(self._memory, dtype=np.float32).reshape(rows, dim)
        self._read = np.zeros(rows, dtype=bool)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.rows)

    def ensure(self, ids: np.ndarray) -> None:
        """Read the rows of these token ids that no text has used yet."""
        if self._read[ids].all():
            return
        with self._lock:
            missing = np.unique(ids[~self._read[ids]])
            if not missing.size:
                return
            fd = os.open(self.path, os.O_RDONLY)
            try:
                raw = b"".join(os.pread(fd, self.row_bytes, self.offset + int(i) * self.row_bytes) for i in missing)
            finally:
                os.close(fd)
            if len(raw) != missing.size * self.row_bytes:
                raise RuntimeError(f"the embedding model's file {self.path} is truncated: reinstall wordllama")
            self.rows[missing] = np.frombuffer(raw, dtype="<f2").reshape(-1, DIM)
            self._read[missing] = True  # after the rows: a thread that sees True reads them whole


@dataclass(frozen=True)
class Model:
    table: Table  # float32 rows, one per token id, read as they are first used
    tokens: Tokens


@lru_cache(maxsize=1)
def _model() -> Model:
    table = Table(_package_file(WEIGHTS))
    tokens = Tokens(_package_file(TOKENIZER))
    if tokens.bpe.get_vocab_size() > len(table):
        raise RuntimeError(f"the embedding model has {len(table)} token vectors for a vocabulary of "
                           f"{tokens.bpe.get_vocab_size()}: reinstall wordllama")
    return Model(table, tokens)


def item_text(title: str, summary: str) -> str:
    """What an item's vector is made of: its title (twice, it says the most) and summary."""
    return f"{title}. {title}. {summary}"[:TEXT_CHARS]


def embed(texts: Sequence[str]) -> np.ndarray:
    """Unit vectors, one row per text (an empty text gets a zero vector)."""
    vectors = np.zeros((len(texts), DIM), dtype=np.float32)
    if not texts:
        return vectors
    model = _model()
    for start in range(0, len(texts), BATCH):
        batch = [np.array(ids, dtype=np.intp) for ids in model.tokens.ids(texts[start : start + BATCH])]
        if any(ids.size for ids in batch):
            model.table.ensure(np.concatenate(batch))
        table = model.table.rows
        for n, ids in enumerate(batch, start):
            if ids.size:  # one gather and sum per text: numpy's reduceat over a batch was several times slower
                vectors[n] = table[ids].sum(axis=0) / np.float32(ids.size)
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
