"""feeds.yaml: the topics and feeds Curator reads, validated with file, line and field.

`load_sources` reads and checks the whole file and reports every problem at once,
one line each, as `FILE:LINE: field: what is wrong`. `add_feeds` appends feeds as
text, so the person's comments and layout survive.
"""

from __future__ import annotations

import difflib
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from curator.errors import ConfigError, NotFound

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
FILE_PREFIXES = ("/", "./", "../", "~/")
_CROSS_CHECKED = {"cross_checked": True}  # validation context: load_sources did it already

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]
Text = Annotated[str, StringConstraints(strip_whitespace=True)]
Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class SourcesError(ConfigError):
    """feeds.yaml is missing, unreadable or invalid; one line per problem."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class Topic(BaseModel):
    """A section of the newsletter, and the words that put an item in it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str
    title: Text | None = None
    description: Text = ""
    keywords: list[Keyword] = Field(min_length=1)
    exclude: list[Keyword] = []
    # Titles (or short descriptions) of ideal items, and of items that only look like they belong:
    # they place the topic's meaning for the semantic part of the score (curator/curate/semantic.py).
    examples: list[Keyword] = []
    counter_examples: list[Keyword] = []
    weight: float = Field(1.0, gt=0, allow_inf_nan=False)
    quota: int = Field(5, ge=0)

    @field_validator("name")
    @classmethod
    def _slug(cls, name: str) -> str:
        if not SLUG.fullmatch(name):
            raise PydanticCustomError(
                "slug",
                "not a slug: {name}; use lowercase letters, digits and hyphens, e.g. personal-growth",
                {"name": repr(name)},
            )
        return name

    @field_validator("keywords", "exclude")
    @classmethod
    def _dedupe(cls, words: list[str]) -> list[str]:
        first: dict[str, str] = {}
        for word in words:
            first.setdefault(word.casefold(), word)
        return list(first.values())

    @model_validator(mode="after")
    def _finish(self) -> Topic:
        keywords = {word.casefold() for word in self.keywords}
        clash = [word for word in self.exclude if word.casefold() in keywords]
        if clash:
            raise PydanticCustomError(
                "keyword_excluded",
                "exclude repeats keywords ({words}); keep each word in one list",
                {"words": ", ".join(clash)},
            )
        self.title = self.title or self.name.replace("-", " ").title()
        return self


class FeedSource(BaseModel):
    """One feed: its address, the topics it usually serves, and how much to trust it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    url: str
    title: Text | None = None
    topics: list[str] = []
    weight: float = Field(1.0, gt=0, le=10, allow_inf_nan=False)

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        url = url.strip()
        if not _is_feed_address(url):
            raise PydanticCustomError(
                "not_url",
                "not a URL: {url}; use an http(s):// address, a file: URL, or a file path starting with / or ./",
                {"url": repr(url)},
            )
        return url

    @field_validator("title")
    @classmethod
    def _blank_title(cls, title: str | None) -> str | None:
        if title is None:
            return None
        return " ".join(title.split()) or None

    @field_validator("topics")
    @classmethod
    def _unique_topics(cls, topics: list[str]) -> list[str]:
        return list(dict.fromkeys(topics))

    @property
    def is_file(self) -> bool:
        """Whether this feed is read from a local file rather than fetched over HTTP."""
        return not self.url.lower().startswith(("http://", "https://"))

    def local_path(self, base: Path) -> Path | None:
        """The file a file feed reads, relative paths taken from `base`; None for http(s)."""
        if not self.is_file:
            return None
        is_url = self.url.lower().startswith("file:")
        path = Path(urlsplit(self.url).path) if is_url else Path(self.url).expanduser()
        return path if path.is_absolute() else base / path


class Sources(BaseModel):
    """Everything feeds.yaml declares."""

    model_config = ConfigDict(extra="forbid", strict=True)

    topics: list[Topic] = Field(min_length=1)
    feeds: list[FeedSource] = []

    @field_validator("feeds", mode="before")
    @classmethod
    def _no_feeds(cls, feeds: Any) -> Any:
        return [] if feeds is None else feeds

    @model_validator(mode="after")
    def _cross_check(self, info: ValidationInfo) -> Sources:
        if info.context != _CROSS_CHECKED:
            problems = cross_check(self.model_dump())
            if problems:
                raise PydanticCustomError(
                    "sources", "{problems}", {"problems": "; ".join(_format(p) for p in problems)}
                )
        return self

    @property
    def topic_names(self) -> list[str]:
        return [topic.name for topic in self.topics]

    def topic(self, name: str) -> Topic:
        for topic in self.topics:
            if topic.name == name:
                return topic
        raise NotFound(f"no topic named {name!r}; the topics are {', '.join(self.topic_names)}")


def _is_feed_address(url: str) -> bool:
    if not url or any(ch.isspace() for ch in url):
        return False
    if url.startswith(FILE_PREFIXES):
        return True
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return bool(parts.hostname)
    return scheme == "file" and bool(parts.path)


def cross_check(data: Any) -> list[Problem]:
    """Problems that span entries: duplicate topic names and URLs, unknown topic hints.

    Works on raw, possibly invalid data, so these are reported alongside field errors.
    """
    if not isinstance(data, Mapping):
        return []
    problems: list[Problem] = []
    topics = data.get("topics")
    declared: dict[str, int] = {}
    for i, topic in enumerate(topics if isinstance(topics, list) else []):
        name = topic.get("name") if isinstance(topic, Mapping) else None
        if isinstance(name, str):
            if name in declared:
                msg = f"duplicate topic name {name!r}, already declared at topics[{declared[name]}]"
                problems.append((("topics", i, "name"), msg))
            declared.setdefault(name, i)
    feeds = data.get("feeds")
    seen: dict[str, int] = {}
    for i, feed in enumerate(feeds if isinstance(feeds, list) else []):
        if not isinstance(feed, Mapping):
            continue
        url = feed.get("url")
        if isinstance(url, str) and url.strip():
            key = url.strip()
            if key in seen:
                msg = f"duplicate feed URL, already listed at feeds[{seen[key]}]"
                problems.append((("feeds", i, "url"), msg))
            seen.setdefault(key, i)
        hints = feed.get("topics")
        if not (declared and isinstance(hints, list)):
            continue
        for j, hint in enumerate(hints):
            if isinstance(hint, str) and hint not in declared:
                msg = f"unknown topic {hint!r}; declared topics: {', '.join(declared)}"
                problems.append((("feeds", i, "topics", j), msg))
    return problems


# --- loading -------------------------------------------------------------------------


def load_sources(path: Path) -> Sources:
    """Read and validate feeds.yaml; SourcesError lists every problem with its line."""
    return _parse(_read(path), str(path))


def _read(path: Path) -> str:
    try:
        return Path(path).read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise SourcesError([f"{path}: no such file; point CURATOR_FEEDS at your feeds.yaml"]) from None
    except UnicodeDecodeError as exc:
        raise SourcesError([f"{path}: not UTF-8 text (byte {exc.start})"]) from None
    except OSError as exc:
        raise SourcesError([f"{path}: cannot read: {exc.strerror}"]) from None


def _compose(text: str, name: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (for line numbers) and the data, from one parse."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        what = exc.problem or exc.context or "cannot parse"
        if exc.context and exc.problem and exc.context_mark:
            what += f" ({exc.context} on line {exc.context_mark.line + 1})"
        raise SourcesError([f"{name}{line}: invalid YAML: {what}"]) from None
    except yaml.YAMLError as exc:
        raise SourcesError([f"{name}: invalid YAML: {exc}"]) from None
    finally:
        loader.dispose()


def _parse(text: str, name: str) -> Sources:
    root, data = _compose(text, name)
    if root is None:
        raise SourcesError([f"{name}: empty file; it needs topics: and feeds:"])
    if not isinstance(data, dict):
        raise SourcesError([f"{name}:{root.start_mark.line + 1}: expected a mapping with topics: and feeds:"])
    problems = cross_check(data)
    sources = None
    try:
        sources = Sources.model_validate(data, context=_CROSS_CHECKED)
    except ValidationError as exc:
        problems += [(tuple(err["loc"]), _message(err)) for err in exc.errors()]
    numbered = _duplicate_keys(root) + [(_line(root, loc), _format((loc, msg))) for loc, msg in problems]
    if numbered:
        lines = sorted(dict.fromkeys(numbered), key=lambda pair: pair[0])
        raise SourcesError([f"{name}:{line}: {text}" for line, text in lines])
    assert sources is not None
    return sources


def _duplicate_keys(node: yaml.Node, loc: Loc = ()) -> list[tuple[int, str]]:
    """(line, message) for each repeated key: PyYAML silently keeps only the last one."""
    found: list[tuple[int, str]] = []
    if isinstance(node, yaml.MappingNode):
        first: dict[Any, int] = {}
        for key, value in node.value:
            if key.value in first:
                msg = f"duplicate key, also on line {first[key.value]}; only the last one counts"
                found.append((key.start_mark.line + 1, _format(((*loc, key.value), msg))))
            first.setdefault(key.value, key.start_mark.line + 1)
            found += _duplicate_keys(value, (*loc, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found += _duplicate_keys(item, (*loc, i))
    return found


# --- messages --------------------------------------------------------------------------

FIELDS = {
    "sources": list(Sources.model_fields),
    "topics": list(Topic.model_fields),
    "feeds": list(FeedSource.model_fields),
}
MISSING = {
    "topics": "declare at least one topic",
    "keywords": "list at least one keyword",
    "url": "every feed needs a url",
    "name": "every topic needs a name, a slug such as career",
}


def _message(err: Mapping[str, Any]) -> str:
    """Pydantic's message, reworded where a person editing YAML needs more."""
    kind, loc, value = err["type"], tuple(err["loc"]), err.get("input")
    field = next((part for part in reversed(loc) if isinstance(part, str)), "")
    if kind == "missing":
        return f"missing; {MISSING.get(field, 'this field is required')}"
    if kind == "extra_forbidden":
        allowed = FIELDS["sources" if len(loc) == 1 else str(loc[0])]
        close = difflib.get_close_matches(str(field), allowed, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        return f"unknown field {field!r}; {hint}allowed: {', '.join(allowed)}"
    if kind == "too_short" and field in ("keywords", "topics"):
        return MISSING[field]
    if kind == "string_too_short":
        return "empty; remove it or write a word"
    if kind in ("model_type", "dict_type"):
        return f"expected a mapping (field: value), got {_yaml_type(value)}"
    if kind == "list_type":
        return f"expected a list, got {_yaml_type(value)}"
    if kind == "string_type":
        return f"expected text, got {_yaml_type(value)}"
    if kind in ("float_type", "int_type", "int_from_float"):
        return f"{err['msg']}, got {_yaml_type(value)}"
    return str(err["msg"])


def _yaml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false (quote it if you meant text)"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list | dict):
        return "a list" if isinstance(value, list) else "a mapping"
    return repr(value)


def _format(problem: Problem) -> str:
    loc, msg = problem
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    return f"{path.lstrip('.')}: {msg}" if path else msg


def _line(root: yaml.Node, loc: Loc) -> int:
    """1-based line of the deepest node of `loc` present in the file."""
    node, mark = root, root.start_mark
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == part), None)
            if pair is None:
                break
            mark, node = pair[0].start_mark, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            mark = node.start_mark
        else:
            break
    return mark.line + 1


# --- writing ---------------------------------------------------------------------------


def add_feeds(path: Path, feeds: list[FeedSource]) -> list[FeedSource]:
    """Append the feeds whose URL is not listed yet, keeping the file's text; return them."""
    text = _read(path)
    current = _parse(text, str(path))
    listed = {feed.url for feed in current.feeds}
    added: list[FeedSource] = []
    for feed in feeds:
        if feed.url not in listed:
            listed.add(feed.url)
            added.append(feed)
    if not added:
        return []
    unknown = dict.fromkeys(t for f in added for t in f.topics if t not in current.topic_names)
    if unknown:
        declared = ", ".join(current.topic_names)
        raise SourcesError([f"{path}: not changed: unknown topic {t!r}; declared: {declared}" for t in unknown])
    new_text = _append(text, added)
    try:
        _parse(new_text, str(path))
    except SourcesError as exc:
        problems = [f"{path}: not changed; the result would be invalid:", *exc.problems]
        raise SourcesError(problems) from None
    bom = "\ufeff" if Path(path).read_bytes().startswith(b"\xef\xbb\xbf") else ""
    _write_atomically(Path(path), bom + new_text)
    return added


def _append(text: str, feeds: list[FeedSource]) -> str:
    """`text` with `feeds` added at the end of its feeds: list, in the list's own style."""
    nl = "\r\n" if "\r\n" in text else "\n"
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    assert isinstance(root, yaml.MappingNode)
    pair = next(((k, v) for k, v in root.value if k.value == "feeds"), None)
    if pair is None:
        body = text if text.endswith(("\n", "\r")) else text + nl
        return body + "feeds:" + nl + _block(feeds, 2, nl)
    key, value = pair
    empty = isinstance(value, yaml.ScalarNode) or not value.value
    if not empty and value.flow_style:
        end = text.rindex("]", 0, value.end_mark.index)
        return text[:end] + ", " + ", ".join(_flow_item(f) for f in feeds) + text[end:]
    if empty:  # `feeds:`, `feeds: ~` or `feeds: []`: drop the value, start a block list
        text = text[: value.start_mark.index].rstrip(" ") + text[value.end_mark.index :]
        at = _line_start(text, key.start_mark.line + 1)
        indent = key.start_mark.column + 2
    else:
        at = _line_start(text, _last_line(value) + 1)
        indent = value.start_mark.column
    head = text[:at] if text[:at].endswith(("\n", "\r")) else text[:at] + nl
    return head + _block(feeds, indent, nl) + text[at:]


def _last_line(node: yaml.Node) -> int:
    """0-based line on which the text of `node` ends (block collections end late)."""
    if isinstance(node, yaml.ScalarNode):
        end = node.end_mark
        return end.line - 1 if end.column == 0 and end.line > node.start_mark.line else end.line
    if isinstance(node, yaml.MappingNode) and node.value and not node.flow_style:
        return _last_line(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and node.value and not node.flow_style:
        return _last_line(node.value[-1])
    return node.end_mark.line


def _line_start(text: str, line: int) -> int:
    """Index where 0-based `line` begins, or the end of the text."""
    at = 0
    for _ in range(line):
        at = text.find("\n", at)
        if at < 0:
            return len(text)
        at += 1
    return at


def _block(feeds: list[FeedSource], indent: int, nl: str) -> str:
    pad = " " * indent
    return "".join(f"{pad}- " + f"{nl}{pad}  ".join(_fields(feed, flow=False)) + nl for feed in feeds)


def _flow_item(feed: FeedSource) -> str:
    return "{" + ", ".join(_fields(feed, flow=True)) + "}"


def _fields(feed: FeedSource, flow: bool) -> list[str]:
    """`key: value` for each field that differs from its default, as YAML text."""
    fields = [f"url: {_scalar(feed.url, flow)}"]
    if feed.title:
        fields.append(f"title: {_scalar(feed.title, flow)}")
    if feed.topics:
        fields.append(f"topics: [{', '.join(feed.topics)}]")
    if feed.weight != 1.0:
        # PyYAML's own spelling: it reads back 1.0e-05 as a number, but 1e-05 as text
        fields.append(f"weight: {yaml.safe_dump(feed.weight).splitlines()[0]}")
    return fields


def _scalar(value: str, flow: bool) -> str:
    """`value` as a one-line YAML scalar: plain when that is safe, quoted otherwise."""
    value = " ".join(value.split())
    if flow:
        dumped = yaml.safe_dump([value], default_flow_style=True, allow_unicode=True, width=2**31)
        return dumped.strip()[1:-1]
    dumped = yaml.safe_dump({"k": value}, default_flow_style=False, allow_unicode=True, width=2**31)
    return dumped.strip()[len("k: ") :]


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
