"""Tests for minik8s.api.quantity, tables taken from upstream quantity_test.go."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minik8s.api.quantity import (
    BINARY_SI,
    DECIMAL_EXPONENT,
    DECIMAL_SI,
    Quantity,
    QuantityError,
    bytes_value,
    cpu_millis,
    format_millicpu,
    parse_quantity,
)

FORMAT_WRONG = (
    "quantities must match the regular expression "
    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
MAX_INT64 = 2**63 - 1


# upstream TestQuantityParse: input -> (mantissa, exponent, format)
PARSE_TABLE = [
    ("0", 0, 0, DECIMAL_SI),
    ("0n", 0, 0, DECIMAL_SI),
    ("0u", 0, 0, DECIMAL_SI),
    ("0m", 0, 0, DECIMAL_SI),
    ("0Ki", 0, 0, BINARY_SI),
    ("0k", 0, 0, DECIMAL_SI),
    ("0Mi", 0, 0, BINARY_SI),
    ("0M", 0, 0, DECIMAL_SI),
    ("0Gi", 0, 0, BINARY_SI),
    ("0G", 0, 0, DECIMAL_SI),
    ("0Ti", 0, 0, BINARY_SI),
    ("0T", 0, 0, DECIMAL_SI),
    ("1", 1, 0, DECIMAL_SI),
    ("1Ki", 1024, 0, BINARY_SI),
    ("8Ki", 8 * 1024, 0, BINARY_SI),
    ("7Mi", 7 * 1024**2, 0, BINARY_SI),
    ("6Gi", 6 * 1024**3, 0, BINARY_SI),
    ("5Ti", 5 * 1024**4, 0, BINARY_SI),
    ("4Pi", 4 * 1024**5, 0, BINARY_SI),
    ("3Ei", 3 * 1024**6, 0, BINARY_SI),
    ("10Ti", 10 * 1024**4, 0, BINARY_SI),
    ("100Ti", 100 * 1024**4, 0, BINARY_SI),
    ("5n", 5, -9, DECIMAL_SI),
    ("4u", 4, -6, DECIMAL_SI),
    ("3m", 3, -3, DECIMAL_SI),
    ("9", 9, 0, DECIMAL_SI),
    ("8k", 8, 3, DECIMAL_SI),
    ("50k", 5, 4, DECIMAL_SI),
    ("7M", 7, 6, DECIMAL_SI),
    ("6G", 6, 9, DECIMAL_SI),
    ("5T", 5, 12, DECIMAL_SI),
    ("40T", 4, 13, DECIMAL_SI),
    ("300T", 3, 14, DECIMAL_SI),
    ("2P", 2, 15, DECIMAL_SI),
    ("1E", 1, 18, DECIMAL_SI),
    ("1E-3", 1, -3, DECIMAL_EXPONENT),
    ("1e3", 1, 3, DECIMAL_EXPONENT),
    ("1E6", 1, 6, DECIMAL_EXPONENT),
    ("1e9", 1, 9, DECIMAL_EXPONENT),
    ("1E12", 1, 12, DECIMAL_EXPONENT),
    ("1e15", 1, 15, DECIMAL_EXPONENT),
    ("1E18", 1, 18, DECIMAL_EXPONENT),
    ("1e14", 1, 14, DECIMAL_EXPONENT),
    ("1e13", 1, 13, DECIMAL_EXPONENT),
    ("100.035k", 100035, 0, DECIMAL_SI),
    ("0.001", 1, -3, DECIMAL_SI),
    ("0.0005k", 5, -1, DECIMAL_SI),
    ("0.005", 5, -3, DECIMAL_SI),
    ("0.05", 5, -2, DECIMAL_SI),
    ("0.5", 5, -1, DECIMAL_SI),
    ("0.00050k", 5, -1, DECIMAL_SI),
    ("0.00500", 5, -3, DECIMAL_SI),
    ("0.05000", 5, -2, DECIMAL_SI),
    ("0.50000", 5, -1, DECIMAL_SI),
    ("0.5e0", 5, -1, DECIMAL_EXPONENT),
    ("0.5e-1", 5, -2, DECIMAL_EXPONENT),
    ("0.5e-2", 5, -3, DECIMAL_EXPONENT),
    ("10.035M", 10035, 3, DECIMAL_SI),
    ("1.2e3", 12, 2, DECIMAL_EXPONENT),
    ("1.3E+6", 13, 5, DECIMAL_EXPONENT),
    ("1.40e9", 14, 8, DECIMAL_EXPONENT),
    ("1.53E12", 153, 10, DECIMAL_EXPONENT),
    ("1.6e15", 16, 14, DECIMAL_EXPONENT),
    ("1.7E18", 17, 17, DECIMAL_EXPONENT),
    ("9.01", 901, -2, DECIMAL_SI),
    ("8.1k", 81, 2, DECIMAL_SI),
    ("7.123456M", 7123456, 0, DECIMAL_SI),
    ("6.987654321G", 6987654321, 0, DECIMAL_SI),
    ("5.444T", 5444, 9, DECIMAL_SI),
    ("40.1T", 401, 11, DECIMAL_SI),
    ("300.2T", 3002, 11, DECIMAL_SI),
    ("2.5P", 25, 14, DECIMAL_SI),
    ("1.01E", 101, 16, DECIMAL_SI),
    # things that saturate / round up to a whole nano
    ("3.001n", 4, -9, DECIMAL_SI),
    ("1.1E-9", 2, -9, DECIMAL_EXPONENT),
    ("0.0000000001", 1, -9, DECIMAL_SI),
    ("0.0000000005", 1, -9, DECIMAL_SI),
    ("0.00000000050", 1, -9, DECIMAL_SI),
    ("0.5e-9", 1, -9, DECIMAL_EXPONENT),
    ("0.9n", 1, -9, DECIMAL_SI),
    ("0.00000012345", 124, -9, DECIMAL_SI),
    ("0.00000012354", 124, -9, DECIMAL_SI),
    ("9Ei", MAX_INT64, 0, BINARY_SI),
    ("9223372036854775807Ki", MAX_INT64, 0, BINARY_SI),
    ("12E", 12, 18, DECIMAL_SI),
    # fractional binary
    ("100.035Ki", 10243584, -2, BINARY_SI),
    ("0.5Mi", 512 * 1024, 0, BINARY_SI),
    ("0.05Gi", 536870912, -1, BINARY_SI),
    ("0.025Ti", 274877906944, -1, BINARY_SI),
    # things written by trolls
    ("0.000000000001Ki", 2, -9, DECIMAL_SI),
    (".001", 1, -3, DECIMAL_SI),
    (".0001k", 100, -3, DECIMAL_SI),
    ("1.", 1, 0, DECIMAL_SI),
    ("1.G", 1, 9, DECIMAL_SI),
    # upstream's scanner accepts an empty number part as zero
    (".", 0, 0, DECIMAL_SI),
    ("m", 0, 0, DECIMAL_SI),
    ("Ki", 0, 0, BINARY_SI),
    # beyond int64 a decimal quantity keeps its value
    ("18446744073709551616", 18446744073709551616, 0, DECIMAL_SI),
    ("1e-2147483647", 1, -9, DECIMAL_EXPONENT),
]


# Already signed, so left out of the signed variants below ("--" is invalid).
SIGNED_ONLY = [
    ("-.", 0, 0, DECIMAL_SI),
    ("-", 0, 0, DECIMAL_SI),
    ("+", 0, 0, DECIMAL_SI),
    ("-0", 0, 0, DECIMAL_SI),
    ("-1.5Gi", -1610612736, 0, BINARY_SI),
    ("-0.5Ki", -512, 0, BINARY_SI),
    ("-.000000000001Ki", -2, -9, DECIMAL_SI),
]


@pytest.mark.parametrize("text,mantissa,exponent,fmt", PARSE_TABLE + SIGNED_ONLY)
def test_parse(text, mantissa, exponent, fmt):
    q = parse_quantity(text)
    assert q == Quantity(mantissa, exponent)
    assert q.format == fmt


@pytest.mark.parametrize("sign", ["-", "+"])
@pytest.mark.parametrize("text,mantissa,exponent,fmt", PARSE_TABLE)
def test_parse_signed(sign, text, mantissa, exponent, fmt):
    q = parse_quantity(sign + text)
    expected = Quantity(-mantissa if sign == "-" else mantissa, exponent)
    assert q == expected
    assert q.format == fmt


# upstream TestQuantityString: (mantissa, exponent, format) -> canonical, alternate input
STRING_TABLE = [
    (1024**3, 0, BINARY_SI, "1Gi", "1024Mi"),
    (300 * 1024**2, 0, BINARY_SI, "300Mi", "307200Ki"),
    (6 * 1024, 0, BINARY_SI, "6Ki", ""),
    (1001 * 1024**3, 0, BINARY_SI, "1001Gi", "1025024Mi"),
    (1024**4, 0, BINARY_SI, "1Ti", "1024Gi"),
    (5, 0, BINARY_SI, "5", "5000m"),
    (500, -3, BINARY_SI, "500m", "0.5"),
    (1, 9, DECIMAL_SI, "1G", "1000M"),
    (1000, 6, DECIMAL_SI, "1G", "0.001T"),
    (1000000, 3, DECIMAL_SI, "1G", ""),
    (1000000000, 0, DECIMAL_SI, "1G", ""),
    (1, -3, DECIMAL_SI, "1m", "1000u"),
    (80, -3, DECIMAL_SI, "80m", ""),
    (1080, -3, DECIMAL_SI, "1080m", "1.08"),
    (108, -2, DECIMAL_SI, "1080m", "1080000000n"),
    (10800, -4, DECIMAL_SI, "1080m", ""),
    (300, 6, DECIMAL_SI, "300M", ""),
    (1, 12, DECIMAL_SI, "1T", ""),
    (1, 18, DECIMAL_SI, "1E", ""),
    (1, 21, DECIMAL_SI, "1e21", "1000E"),
    (5, 21, DECIMAL_SI, "5e21", "5000E"),
    (1, 24, DECIMAL_SI, "1e24", "1000000E"),
    (1234567, 6, DECIMAL_SI, "1234567M", ""),
    (1234567, -3, BINARY_SI, "1234567m", ""),
    (3, 3, DECIMAL_SI, "3k", ""),
    (1025, 0, BINARY_SI, "1025", ""),
    (0, 0, DECIMAL_SI, "0", ""),
    (0, 0, BINARY_SI, "0", ""),
    (1, 9, DECIMAL_EXPONENT, "1e9", ".001e12"),
    (1, -3, DECIMAL_EXPONENT, "1e-3", "0.001e0"),
    (1, -9, DECIMAL_EXPONENT, "1e-9", "1000e-12"),
    (80, -3, DECIMAL_EXPONENT, "80e-3", ""),
    (300, 6, DECIMAL_EXPONENT, "300e6", ""),
    (1, 12, DECIMAL_EXPONENT, "1e12", ""),
    (1, 3, DECIMAL_EXPONENT, "1e3", ""),
    (3, 3, DECIMAL_EXPONENT, "3e3", ""),
    (0, 0, DECIMAL_EXPONENT, "0", "00"),
    (1, -9, DECIMAL_SI, "1n", ""),
    (80, -9, DECIMAL_SI, "80n", ""),
    (1080, -9, DECIMAL_SI, "1080n", ""),
    (108, -8, DECIMAL_SI, "1080n", ""),
    (10800, -10, DECIMAL_SI, "1080n", ""),
    (1, -6, DECIMAL_SI, "1u", ""),
    (80, -6, DECIMAL_SI, "80u", ""),
    (1080, -6, DECIMAL_SI, "1080u", ""),
]


@pytest.mark.parametrize("mantissa,exponent,fmt,canonical,alternate", STRING_TABLE)
def test_string(mantissa, exponent, fmt, canonical, alternate):
    q = Quantity(mantissa, exponent, fmt)
    assert str(q) == canonical
    assert str(parse_quantity(canonical)) == canonical
    if alternate:
        assert str(parse_quantity(alternate)) == canonical
    if mantissa:
        assert str(-q) == "-" + canonical


# upstream TestQuantityParseEmit plus the canonical forms this project relies on
EMIT_TABLE = [
    ("1Ki", "1Ki"),
    ("1Mi", "1Mi"),
    ("1Gi", "1Gi"),
    ("1024Mi", "1Gi"),
    ("1000M", "1G"),
    (".001Ki", "1024m"),
    (".000001Ki", "1024u"),
    (".000000001Ki", "1024n"),
    (".000000000001Ki", "2n"),
    ("1.5Gi", "1536Mi"),
    ("500m", "500m"),
    ("1.5", "1500m"),
    ("129e6", "129e6"),
    ("0.1", "100m"),
    ("1000m", "1"),
    ("1024Ki", "1Mi"),
    ("128974848", "128974848"),
    ("0", "0"),
    ("129M", "129M"),
    ("123Mi", "123Mi"),
    ("0.5Gi", "512Mi"),
    ("100.035Ki", "102435840m"),
    ("9Ei", "9223372036854775807"),
    ("1000E", "1e21"),
    ("1e2147483647", "10e2147483646"),
    # str() is always canonical where upstream may echo the input text
    ("+1Gi", "1Gi"),
    ("1.500", "1500m"),
    ("1E3", "1e3"),
    ("01", "1"),
    ("-0", "0"),
]


@pytest.mark.parametrize("text,expected", EMIT_TABLE)
def test_parse_emit(text, expected):
    assert str(parse_quantity(text)) == expected
    if expected != "0":
        assert str(parse_quantity("-" + text.lstrip("+"))) == "-" + expected


INVALID = [
    "", "1.2.3", "5 Mi", "abc", "1Gb", "--1", "1e", "1.1.M", "1+1.0M", "0.1mi", "0.1am",
    "aoeu", ".5i", "1i", "-3.01i", "-3.01e-", " 1", "1 ", "Non-Numeric", "1e99999999999",
    "1e2147483648", "1\n", "1,5", "١", "1Kib", "e", "+-1",
]


@pytest.mark.parametrize("text", INVALID)
def test_invalid(text):
    with pytest.raises(QuantityError):
        parse_quantity(text)


@pytest.mark.parametrize(
    "text,message",
    [
        ("", FORMAT_WRONG),
        ("abc", FORMAT_WRONG),
        ("5 Mi", FORMAT_WRONG),
        ("1Gb", FORMAT_WRONG),
        ("1e", "unable to parse quantity's suffix"),
        ("--1", "unable to parse quantity's suffix"),
    ],
)
def test_error_messages_use_upstream_wording(text, message):
    with pytest.raises(QuantityError) as info:
        parse_quantity(text)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "value,expected",
    [(1, "1"), (0, "0"), (-3, "-3"), (0.5, "500m"), (1.5, "1500m"), (2.0, "2"), (1e16, "10e15"),
     (10**30, "1e30"), (0.1, "100m")],
)
def test_numbers_from_yaml(value, expected):
    assert str(parse_quantity(value)) == expected


@pytest.mark.parametrize("value", [None, True, [1], {"a": 1}, float("nan"), float("inf")])
def test_non_quantity_inputs(value):
    with pytest.raises(QuantityError):
        parse_quantity(value)


# value() / milli_value(): rounded away from zero, as upstream's int64 path
SCALED_TABLE = [
    ("0", 0, 0),
    ("1", 1, 1000),
    ("500m", 1, 500),
    ("1.5", 2, 1500),
    ("0.1", 1, 100),
    ("1n", 1, 1),
    ("1.0001", 2, 1001),
    ("9.01", 10, 9010),
    ("-9.01", -10, -9010),
    ("-1n", -1, -1),
    ("1Gi", 2**30, 2**30 * 1000),
    ("1.5Gi", 1610612736, 1610612736000),
    ("0.5Mi", 524288, 524288000),
    ("129e6", 129000000, 129000000000),
    ("1k", 1000, 1000000),
    ("9Ei", MAX_INT64, None),
    ("9223372036854775807", MAX_INT64, None),
    ("9223372036854775", 9223372036854775, 9223372036854775000),
]


@pytest.mark.parametrize("text,value,milli", SCALED_TABLE)
def test_scaled_values(text, value, milli):
    q = parse_quantity(text)
    assert q.value() == value
    if milli is None:
        with pytest.raises(QuantityError):
            q.milli_value()
    else:
        assert q.milli_value() == milli


@pytest.mark.parametrize("text", ["9223372036854775808", "1e19", "1e2147483647", "-9223372036854775809"])
def test_value_overflow_raises(text):
    with pytest.raises(QuantityError):
        parse_quantity(text).value()


@pytest.mark.parametrize(
    "a,b,expected",
    [
        ("0", "0", 0),
        ("100m", "50m", 1),
        ("50m", "100m", -1),
        ("10000T", "100Gi", 1),
        ("1", "1000m", 0),
        ("1Ki", "1024", 0),
        ("1e3", "1k", 0),
        ("-1", "1n", -1),
        ("1e2147483647", "9Ei", 1),
        ("-1e2147483647", "-9Ei", -1),
        ("1n", "0", 1),
    ],
)
def test_compare(a, b, expected):
    qa, qb = parse_quantity(a), parse_quantity(b)
    assert (qa > qb) - (qa < qb) == expected
    assert (qa == qb) == (expected == 0)
    if expected == 0:
        assert hash(qa) == hash(qb)


@pytest.mark.parametrize(
    "a,b,total,total_str,difference_str",
    [
        ("10", "1e1", 20, "20", "0"),
        ("10", "1Ki", 1034, "1034", "-1014"),
        ("1Ki", "10", 1034, "1034", "1014"),
        ("0", "50", 50, "50", "-50"),
        ("50", "0", 50, "50", "50"),
        ("0", "0", 0, "0", "0"),
        ("100m", "0", None, "100m", "100m"),
        ("0", "100m", None, "100m", "-100m"),
        ("1Gi", "0", None, "1Gi", "1Gi"),
        ("0", "1Gi", None, "1Gi", "-1Gi"),
        ("1Gi", "1Gi", None, "2Gi", "0"),
        ("500m", "1.5", 2, "2", "-1"),
        ("1e3", "1", None, "1001", "999"),
        ("100m", "1Ki", None, "1024100m", "-1023900m"),
    ],
)
def test_add_sub(a, b, total, total_str, difference_str):
    qa, qb = parse_quantity(a), parse_quantity(b)
    if total is not None:
        assert (qa + qb).value() == total
    assert str(qa + qb) == total_str  # a zero receiver takes the other's format
    assert str(qa - qb) == difference_str
    assert str(qa) == str(parse_quantity(a)), "operands must not change"


def test_add_rejects_absurd_alignment():
    with pytest.raises(QuantityError):
        parse_quantity("1e2147483647") + parse_quantity("1n")


def test_arithmetic_with_other_types_is_unsupported():
    with pytest.raises(TypeError):
        parse_quantity("1") + 1


def test_immutable():
    q = parse_quantity("1Gi")
    with pytest.raises(AttributeError):
        q._m = 3
    assert {q, parse_quantity("1024Mi")} == {q}
    assert repr(q) == "Quantity('1Gi')"


@pytest.mark.parametrize(
    "text,millis,value",
    [("500m", 500, 1), ("2", 2000, 2), (1, 1000, 1), (0.25, 250, 1), ("1Gi", 2**30 * 1000, 2**30),
     ("128974848", 128974848000, 128974848), ("129e6", 129000000000, 129000000), ("1.5Gi", 1610612736000, 1610612736)],
)
def test_helpers(text, millis, value):
    assert cpu_millis(text) == millis
    assert bytes_value(text) == value


@pytest.mark.parametrize(
    "millis,expected",
    [(500, "500m"), (2000, "2"), (1, "1m"), (1000, "1"), (1234000, "1234"), (1500, "1500m"), (0, "0"),
     (-250, "-250m"), (100000, "100")],
)
def test_format_millicpu(millis, expected):
    assert format_millicpu(millis) == expected
    assert cpu_millis(expected) == millis


# --- properties --------------------------------------------------------------

_suffixes = st.sampled_from(
    ["", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
) | st.builds(lambda e, sign, n: f"{e}{sign}{n}", st.sampled_from("eE"), st.sampled_from(["", "+", "-"]),
              st.integers(0, 40))
_numbers = st.builds(
    lambda sign, whole, dot, frac: f"{sign}{whole}{dot}{frac}",
    st.sampled_from(["", "+", "-"]),
    st.text("0123456789", min_size=1, max_size=25),
    st.sampled_from(["", "."]),
    st.text("0123456789", max_size=12),
)
well_formed = st.builds(lambda n, s: n + s, _numbers, _suffixes)


@given(well_formed)
def test_canonical_string_is_stable(text):
    q = parse_quantity(text)
    canonical = str(q)
    again = parse_quantity(canonical)
    assert again == q
    assert str(again) == canonical


@given(st.text("0123456789.+-eEinumkKMGTP \x00Zb,", max_size=30) | st.text(max_size=30))
def test_garbage_raises_only_quantity_error(text):
    try:
        q = parse_quantity(text)
    except QuantityError:
        return
    assert str(parse_quantity(str(q))) == str(q)


@given(st.integers(-(10**12), 10**12), st.integers(-(10**12), 10**12))
def test_millicpu_arithmetic_matches_ints(a, b):
    qa, qb = Quantity(a, -3), Quantity(b, -3)
    assert (qa + qb).milli_value() == a + b
    assert (qa - qb).milli_value() == a - b
    assert (qa < qb) == (a < b)
    assert cpu_millis(format_millicpu(a)) == a
