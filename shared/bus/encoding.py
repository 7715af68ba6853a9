"""Routing-key segments and topic matching (bus.md §3).

A segment that comes from data (database name, document type, document id, `Resource-Type`) is encoded
byte by byte over its UTF-8 form, so it can never contain the `.` separator or a wildcard. The spec's
fixed words (`doc_edited`, `offnet`, `route`, `req`, `cache`, ...) use only kept characters, so encoding
them changes nothing: `routing_key` therefore encodes every segment unless told otherwise.
"""

from __future__ import annotations

import string

# Bytes kept as they are; a space becomes "+", every other byte "%XX".
_KEPT = frozenset((string.ascii_letters + string.digits + "-~_").encode("ascii"))
_WILDCARDS = frozenset({"*", "#"})
_HEX = frozenset(string.hexdigits)


def encode_segment(value: str) -> str:
    """Encode one routing-key segment; `*` and `#` (whole segment) and the empty string stay as they are."""
    if value in _WILDCARDS:
        return value
    parts: list[str] = []
    for byte in value.encode("utf-8"):
        if byte in _KEPT:
            parts.append(chr(byte))
        elif byte == 0x20:
            parts.append("+")
        else:
            parts.append(f"%{byte:02X}")
    return "".join(parts)


def decode_segment(value: str) -> str:
    """Inverse of `encode_segment`. A `%` not followed by two hex digits is kept literally."""
    out = bytearray()
    i = 0
    while i < len(value):
        char = value[i]
        if char == "%" and i + 3 <= len(value) and set(value[i + 1 : i + 3]) <= _HEX:
            out.append(int(value[i + 1 : i + 3], 16))
            i += 3
            continue
        out.extend(b" " if char == "+" else char.encode("utf-8"))
        i += 1
    return out.decode("utf-8", errors="replace")


def routing_key(*segments: str, encode: tuple[bool, ...] | None = None) -> str:
    """Join segments with `.`, encoding each one per bus.md §3.

    `encode=None` encodes every segment (fixed words pass unchanged). Pass one flag per segment to leave
    some untouched, e.g. a database name that is already in Kazoo's encoded form:
    `routing_key("doc_edited", kazoo_db, "resource", doc_id, encode=(True, False, True, True))`.
    """
    if encode is None:
        return ".".join(encode_segment(segment) for segment in segments)
    if len(encode) != len(segments):
        raise ValueError(f"{len(segments)} segments but {len(encode)} encode flags")
    return ".".join(
        encode_segment(segment) if flag else segment for segment, flag in zip(segments, encode, strict=True)
    )


def topic_matches(binding_key: str, key: str) -> bool:
    """Whether a topic exchange routes `key` through a binding with `binding_key`
    (`*` = exactly one word, `#` = zero or more words)."""
    return _match(binding_key.split("."), key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[skip:]) for skip in range(len(words) + 1))
    if not words:
        return False
    return (head in ("*", words[0])) and _match(rest, words[1:])
