"""Hostile input to the inventory parsers and the YAML plan import.

Whatever arrives (random text or bytes, CRLF, NUL, bad UTF-8, 10,000-character
lines, 200,000 lines, more than the cap) the parser answers with a ParseResult
or an InventoryParseError: never another exception. The timings (5 MB within
2 s, YAML bombs within 1 s with bounded memory) are measured by
docs/bench/hostile_input_bench.py, not here."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plans import yaml_io
from servers.parsers import (
    DEFAULT_MAX_BYTES,
    SUPPORTED_FORMATS,
    InventoryParseError,
    ParseResult,
    parse_inventory,
)

hostile = settings(
    database=None,
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

GOOD = "adduser\t3.134\tall\nopenssl\t3.0.19-1~deb12u2\tamd64\n"
_piece = st.one_of(
    st.sampled_from(GOOD.splitlines()),
    st.text(max_size=60),
    st.sampled_from(["\r\n", "\r", "\n", "\x00", "\ufeff", "\x1b[31m", "\u2028", "\x85"]),
    st.integers(1000, 10_000).map(lambda n: "a" * n),
    st.sampled_from(["ii  bash  5.2-1  amd64  GNU shell", "Listing...", "bash/stable 5.2 amd64"]),
)
_fmt = st.sampled_from([None, *SUPPORTED_FORMATS, "nonsense"])


def refused_or_parsed(data, fmt=None):
    try:
        result = parse_inventory(data, fmt)
    except InventoryParseError as error:
        assert str(error) and len(str(error)) < 500, "a short, clean message"
        return error
    assert isinstance(result, ParseResult) and result.format in SUPPORTED_FORMATS
    return result


@hostile
@given(st.lists(_piece, max_size=30), _fmt)
def test_mixed_hostile_text_parses_or_is_refused_cleanly(pieces, fmt):
    text = "".join(pieces)
    refused_or_parsed(text, fmt)
    refused_or_parsed(text.encode("utf-8", "surrogatepass"), fmt)


@hostile
@given(st.binary(max_size=2000), st.binary(max_size=200), _fmt)
def test_bytes_with_bad_utf8_and_nul_are_refused_cleanly(prefix, noise, fmt):
    data = GOOD.encode() + prefix + b"\xff\xfe\xc3\x28" + noise
    result = refused_or_parsed(data, fmt)
    assert isinstance(result, InventoryParseError)


@pytest.mark.parametrize(
    "data, message",
    [
        (GOOD.encode() + b"zlib1g\t1:1.2\x00\tamd64\n", "NUL"),
        (GOOD.encode() + b"caf\xe9\t1.0\tall\n", "not valid UTF-8"),
        (GOOD + "a" * 10_000 + "\n", "longer than"),
        ("\ufeff" + GOOD.replace("\n", "\r\n"), None),  # a BOM and CRLF are fine
    ],
)
def test_specific_hostile_listings(data, message):
    result = refused_or_parsed(data)
    if message is None:
        assert isinstance(result, ParseResult) and len(result.packages) == 2
    else:
        assert isinstance(result, InventoryParseError) and message in str(result)


def test_200000_lines_parse_within_the_cap():
    lines = "".join(f"pkg{i}\t1.{i}\tamd64\n" for i in range(200_000))
    assert len(lines.encode()) < DEFAULT_MAX_BYTES
    result = parse_inventory(lines)
    assert len(result.packages) == 200_000


def test_200000_lines_with_a_bad_one_near_the_end_name_its_line():
    lines = [f"pkg{i}\t1.{i}\tamd64" for i in range(200_000)]
    lines[199_990] = "%%% not a package"
    with pytest.raises(InventoryParseError) as error:
        parse_inventory("\n".join(lines), "dpkg-query")
    assert error.value.line == 199_991


@pytest.mark.parametrize("as_bytes", [True, False])
def test_the_size_cap_holds_by_one_byte(as_bytes):
    line = "a\t1\tall\n"
    text = line * (DEFAULT_MAX_BYTES // len(line)) + "b\t1\tall\n"
    text = text[: DEFAULT_MAX_BYTES + 1]
    assert len(text.encode()) == DEFAULT_MAX_BYTES + 1
    with pytest.raises(InventoryParseError, match="larger than the 5 MB limit"):
        parse_inventory(text.encode() if as_bytes else text)
    # Multi-byte characters count as bytes, not characters.
    wide = "é" * (DEFAULT_MAX_BYTES // 2 + 1)
    with pytest.raises(InventoryParseError, match="larger than"):
        parse_inventory(wide.encode() if as_bytes else wide)


# --- YAML import ---------------------------------------------------------------

ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


def test_a_yaml_alias_bomb_is_rejected():
    with pytest.raises(yaml_io.PlanImportError, match="anchors|aliases"):
        yaml_io.load_yaml(ALIAS_BOMB)


@pytest.mark.parametrize("opening, closing", [("[", "]"), ("{a: ", "}")])
def test_deeply_nested_yaml_is_rejected(opening, closing):
    depth = 50_000
    with pytest.raises(yaml_io.PlanImportError, match="nested deeper"):
        yaml_io.load_yaml(opening * depth + "x" + closing * depth)


def test_block_nesting_is_rejected():
    nested = "".join(f"{'  ' * i}k{i}:\n" for i in range(100)) + "  " * 100 + "v\n"
    with pytest.raises(yaml_io.PlanImportError, match="nested deeper"):
        yaml_io.load_yaml(nested)


@hostile
@given(st.text(max_size=300))
def test_random_yaml_text_loads_or_is_refused_cleanly(text):
    try:
        yaml_io.load_yaml(text)
    except yaml_io.PlanImportError as error:
        assert error.args
