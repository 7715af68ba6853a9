"""Phone-number normalisation, reconcilability and classification (numbers.md §3).

Pure functions over configuration data. The converter and classifier tables come from
`system_config/number_manager` (`e164_converters`, `classifiers`), so they are plain mappings whose key
order is the evaluation order; the defaults below are numbers.md §3.1 and §3.3 as data.

Kazoo evaluates these regexes with Erlang's `re` (PCRE); Python's `re` differs in a few ways that
configured patterns may hit. `compile_kazoo_regex` bridges them:

* PCRE's `\\d`, `\\w`, `\\s` are ASCII-only unless `(*UCP)` is given; Python's str patterns are Unicode
  aware, so `\\d` would accept e.g. Arabic-Indic digits. Patterns are compiled with `re.ASCII`.
* PCRE named groups `(?<name>...)` and `(?'name'...)` are Python's `(?P<name>...)`.
* PCRE `\\z` (absolute end of subject) is Python's `\\Z`; PCRE `\\Z` (end, or before a final newline)
  has no escape in Python and becomes `(?=\\n?\\Z)`.
* POSIX bracket classes (`[[:digit:]]`) do not exist in Python; they are expanded inside `[...]`.
* A pattern Python cannot compile (e.g. a PCRE-only verb) makes that table entry inert instead of
  failing the whole classification, as a bad entry in Kazoo only fails its own match.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

# numbers.md §3.1 step 3, Kazoo's `e164_converters` layout: regex → {"prefix", "suffix"?}, tried in order.
DEFAULT_CONVERTERS: Mapping[str, Mapping[str, str]] = {
    r"^(\+?1)?([2-9][0-9]{2}[2-9][0-9]{6})$": {"prefix": "+1"},
    r"^011(\d{5,})$|^00(\d{5,})$": {"prefix": "+"},
    r"^[2-9]\d{7,}$": {"prefix": "+"},
}

# numbers.md §3.3, in evaluation order.
_US_PRETTY = "SS(###) ### - ####"
DEFAULT_CLASSIFIERS: Mapping[str, Mapping[str, Any]] = {
    "tollfree_us": {
        "regex": r"^\+1((?:800|888|877|866|855)\d{7})$",
        "friendly_name": "US TollFree",
        "pretty_print": _US_PRETTY,
    },
    "toll_us": {"regex": r"^\+1(900\d{7})$", "friendly_name": "US Toll", "pretty_print": _US_PRETTY},
    "emergency": {"regex": r"^(911)$", "friendly_name": "Emergency Dispatcher", "emergency": True},
    "caribbean": {
        "regex": r"^\+?1((?:684|264|268|242|246|441|284|345|767|809|829|849|473|671|876|664|670|787|939"
        r"|869|758|784|721|868|649|340)\d{7})$",
        "friendly_name": "Caribbean",
        "pretty_print": _US_PRETTY,
    },
    "did_us": {
        "regex": r"^\+?1?([2-9][0-9]{2}[2-9][0-9]{6})$",
        "friendly_name": "US DID",
        "pretty_print": _US_PRETTY,
    },
    "international": {"regex": r"^\+([2-9]\d{7,})$|^(011\d*)$|^(00\d*)$", "friendly_name": "International"},
    "unknown": {"regex": r"^(.*)$", "friendly_name": "Unknown"},
}

_RECONCILABLE = re.compile(r"\+1\d{10}|\+[2-9]\d{7,14}", re.ASCII)
# Whitespace and the visual separators of §3.1 step 1.
_SEPARATORS = re.compile(r"[\s\-.()]")

_POSIX_CLASSES = {
    "alnum": "a-zA-Z0-9",
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "lower": "a-z",
    "space": r"\s",
    "upper": "A-Z",
    "word": r"\w",
    "xdigit": "0-9A-Fa-f",
}
_POSIX_CLASS = re.compile(r"\[:(\w+):\]")


def _translate_pcre(pattern: str) -> str:
    """Rewrite the PCRE-only syntax listed in the module docstring into Python `re` syntax."""
    out: list[str] = []
    i = 0
    in_class = False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            if escaped == "z" and not in_class:
                out.append(r"\Z")
            elif escaped == "Z" and not in_class:
                out.append(r"(?=\n?\Z)")
            else:
                out.append(char + escaped)
            i += 2
            continue
        if in_class:
            posix = _POSIX_CLASS.match(pattern, i)
            if posix and posix.group(1) in _POSIX_CLASSES:
                out.append(_POSIX_CLASSES[posix.group(1)])
                i = posix.end()
                continue
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            out.append(char)
            i += 1
            # A `]` or `^]` right after the opening bracket is a literal member, not the end.
            if pattern.startswith("^", i):
                out.append("^")
                i += 1
            if pattern.startswith("]", i):
                out.append("]")
                i += 1
            continue
        elif pattern.startswith("(?<", i) and pattern[i + 3 : i + 4] not in ("=", "!"):
            out.append("(?P<")
            i += 3
            continue
        elif pattern.startswith("(?'", i):
            end = pattern.find("'", i + 3)
            if end > 0:
                out.append(f"(?P<{pattern[i + 3 : end]}>")
                i = end + 1
                continue
        out.append(char)
        i += 1
    return "".join(out)


@lru_cache(maxsize=512)
def compile_kazoo_regex(pattern: str) -> re.Pattern[str] | None:
    """Compile a configured (PCRE) pattern once; None when Python cannot compile it."""
    try:
        return re.compile(_translate_pcre(pattern), re.ASCII)
    except re.error:
        return None


def clean(number: str) -> str:
    """§3.1 step 1: drop whitespace and `-`, `.`, `(`, `)` anywhere; letters stay as they are."""
    return _SEPARATORS.sub("", number)


def _convert(match: re.Match[str], rule: Mapping[str, str]) -> str:
    captured = [group for group in match.groups() if group]
    body = captured[-1] if captured else match.group(0)
    return f"{rule.get('prefix', '')}{body}{rule.get('suffix', '')}"


def normalize(number: str, converters: Mapping[str, Mapping[str, str]] = DEFAULT_CONVERTERS) -> str:
    """§3.1 steps 1-4: the E.164 form of `number`, or the cleaned input when no converter applies."""
    cleaned = clean(number)
    if cleaned.startswith("+"):
        return cleaned
    for pattern, rule in converters.items():
        compiled = compile_kazoo_regex(pattern)
        match = compiled.search(cleaned) if compiled else None
        if match:
            return _convert(match, rule)
    return cleaned


def is_reconcilable(e164: str) -> bool:
    """May a number with this (normalised) value exist? (§3.1)"""
    return _RECONCILABLE.fullmatch(e164) is not None


@dataclass(frozen=True)
class Classification:
    name: str
    friendly_name: str
    regex: str
    pretty_print: str | None
    emergency: bool
    # The configured entry as given, so extra keys reach `classifier_answer` untouched.
    entry: Mapping[str, Any] = field(hash=False, compare=False)


def classify_normalized(
    e164: str, classifiers: Mapping[str, Any] = DEFAULT_CLASSIFIERS
) -> Classification | None:
    """First classifier, in key order, whose regex matches the already normalised `e164`."""
    for name, configured in classifiers.items():
        # Kazoo also accepts a bare regex string as a classifier.
        entry: Mapping[str, Any] = {"regex": configured} if isinstance(configured, str) else configured
        pattern = entry.get("regex")
        compiled = compile_kazoo_regex(pattern) if isinstance(pattern, str) else None
        if compiled is None or compiled.search(e164) is None:
            continue
        assert isinstance(pattern, str)
        pretty = entry.get("pretty_print")
        return Classification(
            name=name,
            friendly_name=str(entry.get("friendly_name", name)),
            regex=pattern,
            pretty_print=pretty if isinstance(pretty, str) else None,
            emergency=entry.get("emergency") is True,
            entry=entry,
        )
    return None


def classify(
    number: str,
    classifiers: Mapping[str, Any] = DEFAULT_CLASSIFIERS,
    converters: Mapping[str, Mapping[str, str]] = DEFAULT_CONVERTERS,
) -> Classification | None:
    """Normalise `number`, then classify it (§3.3)."""
    return classify_normalized(normalize(number, converters), classifiers)


def classifier_answer(
    number_as_sent: str,
    classifiers: Mapping[str, Any] = DEFAULT_CLASSIFIERS,
    converters: Mapping[str, Mapping[str, str]] = DEFAULT_CONVERTERS,
) -> dict[str, Any]:
    """`data` of `GET .../classifiers/{N}`: the matched entry plus `name`, `number` and `e164`."""
    e164 = normalize(number_as_sent, converters)
    found = classify_normalized(e164, classifiers)
    answer: dict[str, Any] = dict(found.entry) if found else {}
    if found:
        answer["name"] = found.name
    answer["number"] = number_as_sent
    answer["e164"] = e164
    return answer


def pretty_print(e164: str, fmt: str) -> str:
    """Format a number for people (§3.3): `S` skips a character, `#` copies one, `*` copies the rest,
    and anything else is itself. As in Kazoo, `\\S`, `\\#` and `\\*` are those letters taken literally,
    and once the number is used up `S`, `#` and `*` add nothing."""
    out: list[str] = []
    rest = e164
    i = 0
    while i < len(fmt):
        char = fmt[i]
        if char == "\\" and fmt[i + 1 : i + 2] in ("S", "#", "*"):
            out.append(fmt[i + 1])
            i += 2
            continue
        if char == "S":
            rest = rest[1:]
        elif char == "#":
            out.append(rest[:1])
            rest = rest[1:]
        elif char == "*":
            out.append(rest)
            rest = ""
        else:
            out.append(char)
        i += 1
    return "".join(out)
