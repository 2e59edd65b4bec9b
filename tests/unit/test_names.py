"""Domain and address validation: what gets stored, what is refused and why."""

from __future__ import annotations

import pytest

from mailctl.errors import InvalidName
from mailctl.model.names import display_domain, normalize_domain, parse_address


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Example.NL", "example.nl"),
        ("example.nl.", "example.nl"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),
        ("a-b.c-d.example.org", "a-b.c-d.example.org"),
        ("x" * 63 + ".nl", "x" * 63 + ".nl"),
    ],
)
def test_domains_are_stored_lowercase_as_a_labels(given: str, stored: str) -> None:
    assert normalize_domain(given) == stored


def test_display_form_shows_unicode() -> None:
    assert display_domain("xn--bcher-kva.example") == "bücher.example"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "nl",
        "../x",
        "a/b",
        "a/b.nl",
        "..example.nl",
        ".example.nl",
        "exa mple.nl",
        "-example.nl",
        "example-.nl",
        "exa_mple.nl",
        "example.123",
        "ex\x00ample.nl",
        "x" * 64 + ".nl",
        ".".join(["a" * 60] * 5),  # 304 characters
        "xn--zz.nl",
    ],
)
def test_bad_domains_are_refused_with_the_value_named(bad: str) -> None:
    with pytest.raises(InvalidName) as info:
        normalize_domain(bad)
    assert "invalid" in str(info.value)
    if bad:
        assert repr(bad) in str(info.value)


def test_domain_of_exactly_253_characters_is_accepted() -> None:
    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(name) == 253
    assert normalize_domain(name) == name
    with pytest.raises(InvalidName, match="254 characters"):
        normalize_domain(name + "d")


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("John.Doe@Example.NL", "john.doe@example.nl"),
        ("info+tag@bücher.example", "info+tag@xn--bcher-kva.example"),
        ("o'hara@example.nl", "o'hara@example.nl"),
    ],
)
def test_addresses_are_normalized(given: str, stored: str) -> None:
    assert str(parse_address(given)) == stored


def test_catchall_only_where_allowed() -> None:
    assert str(parse_address("@Example.nl", allow_catchall=True)) == "@example.nl"
    assert parse_address("@example.nl", allow_catchall=True).is_catchall
    with pytest.raises(InvalidName, match="catch-all"):
        parse_address("@example.nl")


@pytest.mark.parametrize(
    "bad",
    ["user", "user@", "a@b@example.nl", ".user@example.nl", "us..er@example.nl",
     "us/er@example.nl", "user@../x", "us er@example.nl", "x" * 65 + "@example.nl"],
)
def test_bad_addresses_are_refused(bad: str) -> None:
    with pytest.raises(InvalidName) as info:
        parse_address(bad)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize("bad", ["\n", "\r", "\t", "\x00", " x"])
@pytest.mark.parametrize(
    "value", ["example.nl", "joe2@example.nl", "@example.nl"], ids=["domain", "address", "catchall"]
)
def test_control_characters_never_reach_a_stored_name(bad: str, value: str) -> None:
    """`$` matches before a final newline, so validators use fullmatch: a control
    character anywhere in a name is refused, at its ends too. Surrounding spaces
    are trimmed, as typed names often carry them; what is stored never holds one."""
    check = normalize_domain if "@" not in value else (
        lambda v: str(parse_address(v, allow_catchall=True))
    )
    at = value.index("@") + 1 if "@" in value else 3  # the domain's start, or inside it
    inside = [value[:at] + bad + value[at:], value[:-2] + bad + value[-2:]]
    if value.index("@") > 0 if "@" in value else False:
        inside += [value[:at - 1] + bad + value[at - 1:], value[:1] + bad + value[1:]]
    for candidate in inside:
        with pytest.raises(InvalidName):
            check(candidate)
    with pytest.raises(InvalidName):  # at the end too: only spaces are trimmed
        check(value + bad)
    if not bad.startswith(" "):  # and at the start
        with pytest.raises(InvalidName):
            check(bad + value)
    assert check(f" {value} ") == check(value)
