"""The outbox backend: one RFC 5322 .eml file per recipient, in settings.outbox_dir.

The file of an issue's recipient is named by the ledger's delivery id, so sending a batch
again overwrites its files instead of adding copies. Each file is written to a temporary
name and renamed: a reader never sees half a message.
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from pathlib import Path

from curator.config import Settings
from curator.deliver.backends import (
    LIST_UNSUBSCRIBE_POST,
    BatchMessage,
    BatchResult,
    Outcome,
    SingleMessage,
)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class OutboxBackend:
    """Writes every message as a .eml file; the development and demo default."""

    name = "outbox"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.folder = Path(settings.outbox_dir)
        self._domain = settings.from_email.rpartition("@")[2] or "localhost"

    def path_for(self, issue: str, delivery_id: int) -> Path:
        return self.folder / f"{issue}-{delivery_id:08d}.eml"

    def send_batch(self, message: BatchMessage) -> BatchResult:
        from curator import render

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for r in message.recipients:
                copy = render.personalize(message.body, r.values)
                eml = self._message(
                    to=formataddr((r.name, r.email)) if r.name else r.email,
                    subject=copy.subject, html=copy.html, text=copy.text,
                    message_id=f"<{message.issue}.{r.delivery_id}@{self._domain}>",
                    headers={
                        "List-Unsubscribe": f"<{r.unsubscribe_url}>",
                        "List-Unsubscribe-Post": LIST_UNSUBSCRIBE_POST,
                        "X-Curator-Issue": message.issue,
                        "X-Curator-Batch": message.batch_key,
                    },
                )
                _write_atomically(self.path_for(message.issue, r.delivery_id), eml)
        except OSError as exc:
            # Files already written are overwritten when the batch is tried again.
            return BatchResult(Outcome.RETRY, error=f"cannot write to the outbox {self.folder}: {exc}")
        return BatchResult(Outcome.ACCEPTED, message_id=message.batch_key)

    def send_one(self, message: SingleMessage) -> BatchResult:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        token = secrets.token_hex(4)
        path = self.folder / f"transactional-{stamp}-{token}-{_UNSAFE.sub('_', message.to)[:80]}.eml"
        eml = self._message(
            to=message.to, subject=message.subject, html=message.html, text=message.text,
            message_id=f"<transactional.{stamp}.{token}@{self._domain}>", headers=message.headers,
        )
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _write_atomically(path, eml)
        except OSError as exc:
            return BatchResult(Outcome.RETRY, error=f"cannot write to the outbox {self.folder}: {exc}")
        return BatchResult(Outcome.ACCEPTED, message_id=path.name)

    def close(self) -> None:
        pass

    def _message(
        self, *, to: str, subject: str, html: str, text: str, message_id: str, headers: dict[str, str]
    ) -> bytes:
        # Fold only past RFC 5322's 998: a shorter fold would RFC 2047-encode List-Unsubscribe's URL.
        msg = EmailMessage(policy=SMTP.clone(max_line_length=998))
        msg["From"] = formataddr((self.settings.from_name, self.settings.from_email))
        msg["To"] = to
        if self.settings.reply_to:
            msg["Reply-To"] = self.settings.reply_to
        msg["Subject"] = subject
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = message_id
        for name, value in headers.items():
            msg[name] = value
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        for part in msg.iter_parts():  # the parts inherit it from the top; once is right
            del part["MIME-Version"]
        return msg.as_bytes()


def forget_files(settings: Settings, email: str) -> int:
    """Delete every outbox file addressed to (or naming) `email`; returns how many.

    The outbox is for development and demos, so reading each file is affordable; a name
    pattern alone would miss a test copy or a confirmation sent to the address.
    """
    folder = Path(settings.outbox_dir)
    if not folder.is_dir():
        return 0
    needle = email.strip().lower().encode()
    removed = 0
    for path in folder.glob("*.eml"):
        try:
            if needle in path.read_bytes().lower():
                path.unlink()
                removed += 1
        except FileNotFoundError:  # removed meanwhile
            continue
    return removed


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    # No fsync: a killed process loses nothing (the kernel has the bytes); the outbox is not for power cuts.
    os.replace(tmp, path)
