"""CSV in and out: import reports every refused row by line and imports the rest."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, select

from curator.errors import CuratorError, InvalidAddress, NotFound
from curator.store.schema import subscribers
from curator.subscribers._addresses import clean_topics, normalize_email, split_topics
from curator.subscribers._lifecycle import add

CSV_TOPIC_SEP = ";"
# A cell starting with one of these is a formula to a spreadsheet (OWASP, "CSV Injection"): it is
# exported with a ' in front, which spreadsheets show as text, and the import takes the ' off again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EXPORT_COLUMNS = ("email", "name", "topics", "status", "source", "created_at", "confirmed_at", "unsubscribed_at")


@dataclass(frozen=True)
class Rejected:
    line: int
    email: str
    reason: str


@dataclass
class ImportReport:
    path: str
    added: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "file": self.path,
            "added": len(self.added),
            "rejected": [{"line": r.line, "email": r.email, "reason": r.reason} for r in self.rejected],
        }


def read_csv(path: Path, text: str | None = None, offset: int = 0) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each row of a CSV with an `email` column (name and topics optional).

    `text` is the file's content when it is already read (an upload); `offset` is added to
    each line number, for a part of a bigger file sent with its header line.
    """
    reader = csv.DictReader(io.StringIO(_decode(path) if text is None else text, newline=""))
    columns = [c.strip().lower() for c in reader.fieldnames or []]
    if "email" not in columns:
        raise CuratorError(
            f"{path}:1: no `email` column; the first line must name the columns, e.g. email,name,topics"
        )
    reader.fieldnames = columns
    try:
        for row in reader:
            cells = {k: unescape_cell(v or "").strip() for k, v in row.items() if isinstance(k, str)}
            yield reader.line_num + offset, cells
    except csv.Error as exc:
        raise CuratorError(f"{path}:{reader.line_num + offset}: not a readable CSV line ({exc})") from None


def _decode(path: Path) -> str:
    """The file's text: UTF-8 (with or without the BOM spreadsheets write), or UTF-16 with its BOM."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CuratorError(f"cannot read {path}: {exc.strerror}") from None
    encoding = "utf-16" if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CuratorError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as "
            "\"CSV UTF-8\" (in Excel: Save As › CSV UTF-8) and import it again"
        ) from None


def import_csv(
    conn: Connection, path: Path, *, known_topics: Sequence[str] | None, source: str = "import"
) -> ImportReport:
    """Add every valid row as an ACTIVE subscriber; refuse the others, one reason each."""
    return _import(conn, str(path), read_csv(path), known_topics, source)


def import_text(
    conn: Connection, name: str, text: str, *, known_topics: Sequence[str] | None, source: str = "import",
    offset: int = 0,
) -> ImportReport:
    """import_csv for an uploaded file's text, or a part of it (its header line, then lines from offset + 2)."""
    return _import(conn, name, read_csv(Path(name), text, offset), known_topics, source)


def _import(conn: Connection, name: str, rows: Iterator[tuple[int, dict[str, str]]],
            known_topics: Sequence[str] | None, source: str) -> ImportReport:
    report = ImportReport(name)
    seen: dict[str, int] = {}
    for line, row in rows:
        raw = row.get("email", "")
        try:
            email = normalize_email(raw)
            if email in seen:
                raise InvalidAddress(f"duplicate in the file: {email} is already on line {seen[email]}")
            seen[email] = line
            topics = clean_topics(split_topics(row.get("topics"), CSV_TOPIC_SEP), known_topics)
            add(conn, email, name=row.get("name", ""), topics=topics, source=source)
        except (InvalidAddress, NotFound) as exc:
            report.rejected.append(Rejected(line, raw, str(exc)))
            continue
        report.added.append(email)
    return report


def export_csv(conn: Connection, out: IO[str], status: str | None = None) -> int:
    """Write every subscriber as CSV (topics joined by ";", importable again); returns the count."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    query = select(subscribers).order_by(subscribers.c.id)
    if status:
        query = query.where(subscribers.c.status == status)
    count = 0
    for row in conn.execute(query).mappings():
        values = dict(row) | {"topics": CSV_TOPIC_SEP.join(row["topics"] or [])}
        writer.writerow(["" if values[c] is None else escape_cell(_text(values[c])) for c in EXPORT_COLUMNS])
        count += 1
    return count


def _text(value: object) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def escape_cell(text: str) -> str:
    """The cell as a spreadsheet will not run it: a ' before a formula's first character.

    A value that already starts with ' before such a character gets one more, so that
    `unescape_cell` gives back every value exactly.
    """
    if text.startswith(FORMULA_STARTS) or _escaped(text):
        return "'" + text
    return text


def unescape_cell(text: str) -> str:
    """A cell as `escape_cell` wrote it, back to its value."""
    return text[1:] if _escaped(text) else text


def _escaped(text: str) -> bool:
    return text[:1] == "'" and (text[1:].startswith(FORMULA_STARTS) or text[1:2] == "'")
