"""What SendGrid's Mail Send checks in a request body: its published schema, then the rules
the schema does not encode (see shared/specs/sendgrid/README.md).

Each problem is a `FieldError`, rendered by the server as SendGrid renders it:
`{"errors": [{"message": ..., "field": "personalizations.0.to", "help": null}]}`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # jsonschema is a test dependency; without it only the rules are checked
    from jsonschema import Draft202012Validator, ValidationError

log = logging.getLogger(__name__)

SCHEMA_RELATIVE = Path("shared/specs/sendgrid/mail_send_request.schema.json")
MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_SEND_AHEAD_S = 72 * 3600
MAX_ARGS_BYTES = 10_000  # custom_args and substitutions must stay under this
MAX_CATEGORIES = 10
MAX_BODY_BYTES = 30_000_000  # "under 30 MB"; the stricter reading of MB (413 otherwise)
RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "Content-Type",
        "Content-Transfer-Encoding",
        "To",
        "From",
        "Subject",
        "Reply-To",
        "CC",
        "BCC",
    )
)
RECIPIENT_KINDS = ("to", "cc", "bcc")


@dataclass(frozen=True)
class FieldError:
    message: str
    field: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"message": self.message, "field": self.field, "help": None}


def find_schema(start: Path) -> Path | None:
    """The schema beside the repository: <parent of the folder with pyproject.toml>/shared/..."""
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            candidate = folder.parent / SCHEMA_RELATIVE
            return candidate if candidate.is_file() else None
    return None


def load_validator(schema_path: Path | None) -> Draft202012Validator | None:
    """A validator for the request body, or None (with a log line) when no schema is found."""
    try:
        from jsonschema import Draft202012Validator, FormatChecker
    except ImportError:
        log.warning("jsonschema is not installed; validating only the rules SendGrid adds")
        return None
    if schema_path is None:
        schema_path = find_schema(Path(__file__).resolve().parent) or find_schema(Path.cwd())
        if schema_path is None:
            log.warning(
                "SendGrid request schema %s not found beside the repository; "
                "validating only the rules the schema does not encode",
                SCHEMA_RELATIVE,
            )
            return None
    schema = json.loads(Path(schema_path).read_text(encoding="utf-8"))
    # The published schema types top-level custom_args as a string; the API takes an object.
    schema["properties"]["custom_args"] = {
        "type": "object",
        "additionalProperties": {"type": "string"},
    }
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def check_body(body: Any, validator: Draft202012Validator | None, now: float) -> list[FieldError]:
    """Every problem SendGrid would report for this body; empty when it would accept it."""
    if not isinstance(body, dict):
        return [FieldError("The request body must be a JSON object.")]
    errors = schema_errors(body, validator) if validator is not None else []
    reported = {e.field for e in errors}
    # A rule the schema also encodes (e.g. at most 10 categories) is reported once.
    errors += [e for e in rule_errors(body, now) if e.field not in reported]
    return errors


def schema_errors(body: dict[str, Any], validator: Draft202012Validator) -> list[FieldError]:
    found = sorted(validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path])
    return [_from_schema_error(e) for e in found]


def _from_schema_error(error: ValidationError) -> FieldError:
    path = [str(p) for p in error.absolute_path]
    kind, expected = error.validator, error.validator_value
    if kind == "required" and isinstance(error.instance, dict):
        missing = next(name for name in expected if name not in error.instance)
        field = ".".join([*path, missing])
        return FieldError(f"The {field} field is required.", field)
    field = ".".join(path) or None
    where = field or "The request body"
    messages = {
        "type": f"{where} must be of type {expected}.",
        "format": f"{where} must be a valid {expected}.",
        "maxItems": f"{where} may contain at most {expected} items.",
        "minItems": f"{where} must contain at least {expected} items.",
        "maxLength": f"{where} may be at most {expected} characters long.",
        "minLength": f"{where} must be at least {expected} characters long.",
        "maxProperties": f"{where} may have at most {expected} properties.",
        "uniqueItems": f"{where} must not contain the same item twice.",
        "enum": f"{where} must be one of {expected}.",
    }
    # jsonschema's own message repeats the instance, which may be megabytes long.
    return FieldError(messages.get(str(kind), f"{where} is invalid ({kind}).")[:500], field)


def rule_errors(body: dict[str, Any], now: float) -> list[FieldError]:
    """The limits SendGrid enforces but its schema does not encode."""
    personalizations = _objects(body.get("personalizations"))
    errors: list[FieldError] = []
    if len(personalizations) > MAX_PERSONALIZATIONS:
        errors.append(
            FieldError(
                f"A request may contain at most {MAX_PERSONALIZATIONS} personalizations.",
                "personalizations",
            )
        )
    errors += _recipient_errors(personalizations)
    errors += _send_at_errors(body, personalizations, now)
    errors += _args_errors(body, personalizations)
    categories = body.get("categories")
    if isinstance(categories, list) and len(categories) > MAX_CATEGORIES:
        errors.append(FieldError(f"A message may have at most {MAX_CATEGORIES} categories.", "categories"))
    if "reply_to" in body and "reply_to_list" in body:
        errors.append(FieldError("Use either reply_to or reply_to_list, not both.", "reply_to_list"))
    errors += _header_errors(body.get("headers"), "headers")
    for i, p in enumerate(personalizations):
        errors += _header_errors(p.get("headers"), f"personalizations.{i}.headers")
    return errors


def _recipient_errors(personalizations: list[dict[str, Any]]) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    count = 0
    for i, kind, address in _addresses(personalizations):
        count += 1
        key = address.lower()
        if key in seen:
            errors.append(
                FieldError(
                    f"Each email address may appear only once in a request; "
                    f"{address} appears again in personalizations.{i}.{kind}.",
                    f"personalizations.{i}.{kind}",
                )
            )
        seen.add(key)
    if count > MAX_RECIPIENTS:
        errors.append(
            FieldError(
                f"A request may have at most {MAX_RECIPIENTS} recipients (to, cc and bcc); this one has {count}.",
                "personalizations",
            )
        )
    return errors


def _addresses(personalizations: list[dict[str, Any]]) -> Iterator[tuple[int, str, str]]:
    for i, p in enumerate(personalizations):
        for kind in RECIPIENT_KINDS:
            for entry in _objects(p.get(kind)):
                if isinstance(entry.get("email"), str):
                    yield i, kind, entry["email"]


def recipients(body: dict[str, Any]) -> list[list[str]]:
    """The addresses (to, cc, bcc) of each personalization, in order."""
    personalizations = _objects(body.get("personalizations"))
    found: list[list[str]] = [[] for _ in personalizations]
    for i, _kind, address in _addresses(personalizations):
        found[i].append(address)
    return found


def merged_custom_args(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Each personalization's custom_args over the message-level ones, as SendGrid merges them."""
    top = body.get("custom_args")
    base = top if isinstance(top, dict) else {}
    return [
        {**base, **(p["custom_args"] if isinstance(p.get("custom_args"), dict) else {})}
        for p in _objects(body.get("personalizations"))
    ]


def _send_at_errors(body: dict[str, Any], personalizations: list[dict[str, Any]], now: float) -> list[FieldError]:
    stamps = [("send_at", body.get("send_at"))]
    stamps += [(f"personalizations.{i}.send_at", p.get("send_at")) for i, p in enumerate(personalizations)]
    return [
        FieldError("send_at may be at most 72 hours in the future.", field)
        for field, stamp in stamps
        if isinstance(stamp, int) and not isinstance(stamp, bool) and stamp > now + MAX_SEND_AHEAD_S
    ]


def _args_errors(body: dict[str, Any], personalizations: list[dict[str, Any]]) -> list[FieldError]:
    errors: list[FieldError] = []
    top = body.get("custom_args")
    if top is not None and not isinstance(top, dict):
        errors.append(FieldError("custom_args must be an object of string values.", "custom_args"))
    for i, (p, merged) in enumerate(zip(personalizations, merged_custom_args(body), strict=True)):
        for name, values in (("custom_args", merged), ("substitutions", p.get("substitutions"))):
            if values is None:
                continue
            field = f"personalizations.{i}.{name}"
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                errors.append(FieldError(f"{field} must be an object of string values.", field))
            elif (size := _args_size(values)) >= MAX_ARGS_BYTES:
                errors.append(
                    FieldError(
                        f"{field} (with the message-level custom_args) takes {size} bytes; "
                        f"it must stay under {MAX_ARGS_BYTES}.",
                        field,
                    )
                )
    return errors


def _args_size(values: dict[str, str]) -> int:
    """Bytes of the names and values, UTF-8 encoded: SendGrid's 'total collective size'."""
    return sum(len(k.encode()) + len(v.encode()) for k, v in values.items())


def _header_errors(headers: Any, field: str) -> list[FieldError]:
    if not isinstance(headers, dict):
        return []
    errors = [
        FieldError(f"The header {name} is reserved and cannot be set.", field)
        for name in headers
        if name.lower() in RESERVED_HEADERS
    ]
    errors += [
        FieldError(f"The value of header {name} must be a string.", field)
        for name, value in headers.items()
        if not isinstance(value, str)
    ]
    return errors


def _objects(value: Any) -> list[dict[str, Any]]:
    """The objects of a JSON list, a malformed item as {}: the schema reports it, not a crash."""
    if not isinstance(value, list):
        return []
    return [item if isinstance(item, dict) else {} for item in value]
