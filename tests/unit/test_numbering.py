"""Normalisation, reconcilability, classification and pretty printing (numbers.md §3)."""

from __future__ import annotations

import pytest

from shared.domain.numbering import (
    DEFAULT_CLASSIFIERS,
    DEFAULT_CONVERTERS,
    classifier_answer,
    classify,
    clean,
    compile_kazoo_regex,
    is_reconcilable,
    normalize,
    pretty_print,
)

# §3.1's table, row by row: input → (normalised, reconcilable).
NORMALISATION = [
    ("4155551234", "+14155551234", True),
    ("14155551234", "+14155551234", True),
    ("+14155551234", "+14155551234", True),
    ("415-555-1234", "+14155551234", True),
    ("(415) 555 1234", "+14155551234", True),
    ("4123456789", "+14123456789", True),
    ("41234567", "+41234567", True),
    ("+4155551234", "+4155551234", True),
    ("011442071234567", "+442071234567", True),
    ("00442071234567", "+442071234567", True),
    ("2001000000", "+2001000000", True),
    ("+141510010+15", "+141510010+15", False),
    ("415555ABCD", "415555ABCD", False),
    ("1000", "1000", False),
    ("11234567890", "11234567890", False),
    ("911", "911", False),
    # §10 scenario 12: separators anywhere, percent-decoded spaces
    ("415 555 0104", "+14155550104", True),
    ("(415)555-0105", "+14155550105", True),
    ("415.555.0106", "+14155550106", True),
    ("+1 415 555 0107", "+14155550107", True),
]


@pytest.mark.parametrize(("given", "expected", "reconcilable"), NORMALISATION)
def test_normalisation_table(given: str, expected: str, reconcilable: bool) -> None:
    assert normalize(given) == expected
    assert is_reconcilable(normalize(given)) is reconcilable


def test_clean_strips_only_whitespace_and_visual_separators() -> None:
    assert clean(" (415)\t555-12.34 ") == "4155551234"
    assert clean("415555ABCD") == "415555ABCD"  # letters are not mapped to digits
    assert clean("+1/415") == "+1/415"


def test_converter_rule_2_needs_five_digits_after_the_dialling_prefix() -> None:
    assert normalize("0114412") == "0114412"  # too short for rule 2 and starts with 0 for rule 3
    assert normalize("01144123") == "+44123"


def test_converters_are_data_and_tried_in_order() -> None:
    custom = {r"^(\d{4})$": {"prefix": "+4930", "suffix": "0"}, **DEFAULT_CONVERTERS}
    assert normalize("1234", custom) == "+493012340"
    assert normalize("4155551234", custom) == "+14155551234"


@pytest.mark.parametrize(
    "value",
    [
        "+1415555123",
        "+141555512345",
        "+0123456789",
        "+1234567",
        "+2" + "1" * 15,
        "4155551234",
        "+14155551234\n",
    ],
)
def test_not_reconcilable(value: str) -> None:
    assert not is_reconcilable(value)


@pytest.mark.parametrize("value", ["+14155551234", "+41234567", "+2" + "1" * 14, "+442071234567"])
def test_reconcilable(value: str) -> None:
    assert is_reconcilable(value)


def test_unicode_digits_are_not_digits() -> None:
    # Erlang's PCRE `\d` is ASCII-only; Python's would accept Arabic-Indic digits without re.ASCII.
    arabic = "٤١٥٥٥٥١٢٣٤"
    assert normalize(arabic) == arabic
    assert not is_reconcilable("+1" + arabic)


# §3.3 and §10 scenarios 103-104: input → (class, e164).
CLASSIFICATION = [
    ("8005551234", "tollfree_us", "+18005551234"),
    ("+18885551234", "tollfree_us", "+18885551234"),
    ("8775551234", "tollfree_us", "+18775551234"),
    ("8665551234", "tollfree_us", "+18665551234"),
    ("8555551234", "tollfree_us", "+18555551234"),
    ("9005551234", "toll_us", "+19005551234"),
    ("911", "emergency", "911"),
    ("8765551234", "caribbean", "+18765551234"),
    ("7875551234", "caribbean", "+17875551234"),
    ("4158867900", "did_us", "+14158867900"),
    ("011442071234567", "international", "+442071234567"),
    ("+442071234567", "international", "+442071234567"),
    ("41234567", "international", "+41234567"),
    ("abc", "unknown", "abc"),
    ("1000", "unknown", "1000"),
]


@pytest.mark.parametrize(("given", "name", "e164"), CLASSIFICATION)
def test_classification_table(given: str, name: str, e164: str) -> None:
    found = classify(given)
    assert found is not None
    assert found.name == name
    assert classifier_answer(given)["e164"] == e164


def test_classifier_regexes_are_the_seeds_except_international() -> None:
    assert list(DEFAULT_CLASSIFIERS) == [
        "tollfree_us",
        "toll_us",
        "emergency",
        "caribbean",
        "did_us",
        "international",
        "unknown",
    ]
    assert DEFAULT_CLASSIFIERS["did_us"]["regex"] == "^\\+?1?([2-9][0-9]{2}[2-9][0-9]{6})$"
    assert DEFAULT_CLASSIFIERS["international"]["regex"] == "^\\+([2-9]\\d{7,})$|^(011\\d*)$|^(00\\d*)$"
    assert DEFAULT_CLASSIFIERS["emergency"] == {
        "regex": "^(911)$",
        "friendly_name": "Emergency Dispatcher",
        "emergency": True,
    }


def test_classification_fields() -> None:
    found = classify("911")
    assert found is not None
    assert found.emergency is True
    assert found.pretty_print is None
    assert found.friendly_name == "Emergency Dispatcher"
    did = classify("4158867900")
    assert did is not None
    assert did.emergency is False
    assert did.pretty_print == "SS(###) ### - ####"


def test_classifier_answer_is_the_seeds() -> None:
    # §3.3 / scenario 103
    assert classifier_answer("4158867900") == {
        "e164": "+14158867900",
        "friendly_name": "US DID",
        "name": "did_us",
        "number": "4158867900",
        "pretty_print": "SS(###) ### - ####",
        "regex": "^\\+?1?([2-9][0-9]{2}[2-9][0-9]{6})$",
    }


def test_no_match_answers_number_and_e164_only() -> None:
    without_unknown = {k: v for k, v in DEFAULT_CLASSIFIERS.items() if k != "unknown"}
    assert classify("abc", without_unknown) is None
    assert classifier_answer("abc", without_unknown) == {"number": "abc", "e164": "abc"}


def test_key_order_decides() -> None:
    reordered = {"did_us": DEFAULT_CLASSIFIERS["did_us"], **DEFAULT_CLASSIFIERS}
    found = classify("8005551234", reordered)
    assert found is not None and found.name == "did_us"


def test_bad_or_bare_classifiers() -> None:
    classifiers = {
        "broken": {"regex": "(("},
        "no_regex": {"friendly_name": "x"},
        "bare": "^\\+1",
        **DEFAULT_CLASSIFIERS,
    }
    found = classify("4155551234", classifiers)
    assert found is not None
    assert found.name == "bare"
    assert found.regex == "^\\+1"


@pytest.mark.parametrize(
    ("pattern", "subject", "matches"),
    [
        ("^(?<area>\\d{3})\\d+$", "4155551234", True),  # PCRE named group
        ("^(?'area'\\d{3})\\d+$", "4155551234", True),
        ("^[[:digit:]]+\\z", "4155551234", True),  # POSIX class, PCRE absolute end
        ("^[[:digit:]]+\\z", "41555a", False),
        ("^\\d+\\Z", "123", True),
        ("^(?<=x)", "x", False),  # lookbehind is left alone
        ("^[]a]+$", "]a", True),  # a literal `]` first in a class
    ],
)
def test_pcre_patterns_are_translated(pattern: str, subject: str, matches: bool) -> None:
    compiled = compile_kazoo_regex(pattern)
    assert compiled is not None
    assert (compiled.search(subject) is not None) is matches


def test_uncompilable_pattern_is_inert() -> None:
    assert compile_kazoo_regex("(*UCP)\\d") is None


@pytest.mark.parametrize(
    ("number", "fmt", "expected"),
    [
        ("+14155551234", "SS(###) ### - ####", "(415) 555 - 1234"),
        ("+14155551234", "*", "+14155551234"),
        ("+14155551234", "S#-*", "1-4155551234"),
        ("+14155551234", "\\S\\#\\* ##", "S#* +1"),
        ("+1415", "SS(###) ####", "(415) "),  # the number runs out: placeholders add nothing
        ("+14155551234", "a\\b", "a\\b"),  # a backslash before anything else is itself
    ],
)
def test_pretty_print(number: str, fmt: str, expected: str) -> None:
    assert pretty_print(number, fmt) == expected
