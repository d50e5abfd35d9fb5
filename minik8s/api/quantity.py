"""Kubernetes ``resource.Quantity``: exact parsing, arithmetic and canonical text.

This module owns the quantity grammar (``500m``, ``1.5Gi``, ``129e6``), the
canonical string upstream serialises a quantity to, and the integer accessors
the scheduler and kubelet use (``milli_value`` for cpu, ``value`` for bytes).
It follows k8s.io/apimachinery/pkg/api/resource/quantity.go. No floats are
used: a value is held as ``mantissa * 10**exponent`` with Python ints.

Deliberate differences from upstream, all at the edges of the grammar:

* ``str()`` always returns the canonical form; upstream sometimes echoes the
  input text verbatim (``"+1Gi"``, ``"1.500"``, ``"1E3"``).
* ``value()`` / ``milli_value()`` raise ``QuantityError`` where upstream
  silently overflows int64.
* Exponents outside int32 (upstream wraps them) and values with more than
  ``_MAX_DIGITS`` significant digits are rejected, so hostile input cannot
  make the server build enormous integers.
* A BinarySI value above ``1024Ei`` prints as ``...Ei`` instead of losing its
  suffix.
"""

from __future__ import annotations

import functools

from decimal import Decimal
from functools import total_ordering

__all__ = [
    "BINARY_SI",
    "DECIMAL_EXPONENT",
    "DECIMAL_SI",
    "Quantity",
    "QuantityError",
    "bytes_value",
    "cpu_millis",
    "format_millicpu",
    "parse_quantity",
]

DECIMAL_EXPONENT = "DecimalExponent"  # e.g. 12e6
BINARY_SI = "BinarySI"  # e.g. 12Mi (12 * 2^20)
DECIMAL_SI = "DecimalSI"  # e.g. 12M (12 * 10^6)
_FORMATS = frozenset({DECIMAL_EXPONENT, BINARY_SI, DECIMAL_SI})

# Upstream's three parse errors, worded exactly as quantity.go words them.
_ERR_FORMAT = (
    "quantities must match the regular expression "
    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
_ERR_SUFFIX = "unable to parse quantity's suffix"

_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_BY_EXPONENT = {exp: suffix for suffix, exp in _DECIMAL_SUFFIXES.items()}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BINARY_BY_POWER = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")  # index: power of 1024

_DIGITS = "0123456789"
_SUFFIX_CHARS = "eEinumkKMGTP"
_NANO = -9  # parsing keeps precision down to nano and rounds finer values up
_INT64_MAX = 2**63 - 1
_INT64_MIN = -(2**63)
_INT32_MAX = 2**31 - 1
# Well below CPython's 4300-digit int<->str limit, far above any real quantity.
_MAX_DIGITS = 4000


class QuantityError(ValueError):
    """A string is not a valid quantity, or a quantity does not fit a result."""


@total_ordering
class Quantity:
    """An immutable fixed-point number with the display format it was written in.

    The value is ``mantissa * 10**exponent``; equality, ordering and hashing
    use the value only, the format only affects ``str()``.
    """

    __slots__ = ("_m", "_e", "_format")

    def __init__(self, mantissa: int, exponent: int = 0, format: str = DECIMAL_SI):
        if format not in _FORMATS:
            raise ValueError(f"unknown quantity format {format!r}")
        m, e = _normalize(int(mantissa), int(exponent))
        object.__setattr__(self, "_m", m)
        object.__setattr__(self, "_e", e)
        object.__setattr__(self, "_format", format)

    def __setattr__(self, name, value):
        raise AttributeError("Quantity is immutable")

    @property
    def format(self) -> str:
        """DecimalSI, BinarySI or DecimalExponent: how ``str()`` renders it."""
        return self._format

    def value(self) -> int:
        """The value rounded away from zero to a whole unit (upstream ``Value``)."""
        return self._scaled(0)

    def milli_value(self) -> int:
        """The value in milli-units, rounded away from zero (upstream ``MilliValue``)."""
        return self._scaled(-3)

    def _scaled(self, scale: int) -> int:
        m, shift = self._m, self._e - scale
        if m == 0:
            return 0
        if shift >= 0:
            if shift > 19:  # a non-zero mantissa times 10**20 can't fit int64
                raise self._overflow()
            result = m * 10**shift
        else:
            result = _div_away_from_zero(m, -shift)
        if not _INT64_MIN <= result <= _INT64_MAX:
            raise self._overflow()
        return result

    def _overflow(self) -> QuantityError:
        return QuantityError(f"quantity {self} does not fit in a 64-bit integer")

    def _as_decimal(self) -> Decimal:
        # Decimal built from text is exact and compares exactly at any exponent.
        return Decimal(f"{self._m}e{self._e}")

    def __eq__(self, other):
        if not isinstance(other, Quantity):
            return NotImplemented
        return self._m == other._m and self._e == other._e  # both normalized

    def __lt__(self, other):
        if not isinstance(other, Quantity):
            return NotImplemented
        # exact either way; integers are faster while the exponents are near (they almost always are)
        e = min(self._e, other._e)
        if max(self._e, other._e) - e > _MAX_DIGITS:
            return self._as_decimal() < other._as_decimal()
        return self._m * 10 ** (self._e - e) < other._m * 10 ** (other._e - e)

    def __hash__(self):
        return hash((self._m, self._e))

    def __neg__(self) -> Quantity:
        return Quantity(-self._m, self._e, self._format)

    def __add__(self, other):
        if not isinstance(other, Quantity):
            return NotImplemented
        # Upstream Add: a zero receiver takes the other operand's format.
        fmt = other._format if self._m == 0 else self._format
        if other._m == 0 or self._m == 0:
            total = self if other._m == 0 else other
            return Quantity(total._m, total._e, fmt)
        _check_alignment(self, other)
        e = min(self._e, other._e)
        m = self._m * 10 ** (self._e - e) + other._m * 10 ** (other._e - e)
        return Quantity(m, e, fmt)

    def __sub__(self, other):
        if not isinstance(other, Quantity):
            return NotImplemented
        return self + (-other)

    def __str__(self) -> str:
        if self._m == 0:
            return "0"
        if self._format == BINARY_SI:
            whole = self._whole_or_none()
            # Upstream shows |v| < 1024 and fractional values as DecimalSI so
            # nothing is rounded away.
            if whole is not None and abs(whole) >= 1024:
                return _format_binary(whole)
            return _format_decimal(self._m, self._e, DECIMAL_SI)
        return _format_decimal(self._m, self._e, self._format)

    def _whole_or_none(self) -> int | None:
        # A huge exponent (only reachable through the constructor) is shown in
        # decimal rather than expanding 10**e to find powers of 1024.
        if 0 <= self._e <= _MAX_DIGITS:
            return self._m * 10**self._e
        return None

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"


def _normalize(m: int, e: int) -> tuple[int, int]:
    """Move trailing decimal zeros of the mantissa into the exponent."""
    if m == 0:
        return 0, 0
    digits = str(abs(m))
    if len(digits) > _MAX_DIGITS:
        raise QuantityError(f"quantity has more than {_MAX_DIGITS} significant digits")
    stripped = digits.rstrip("0")
    zeros = len(digits) - len(stripped)
    if zeros:
        m = int(stripped) if m > 0 else -int(stripped)
    return m, e + zeros


def _ndigits(m: int) -> int:
    return len(str(abs(m)))


def _check_alignment(a: Quantity, b: Quantity) -> None:
    # Adding 1e999999999 to 1 exactly needs a billion digits; refuse instead.
    top = max(a._e + _ndigits(a._m), b._e + _ndigits(b._m))
    if top - min(a._e, b._e) > _MAX_DIGITS:
        raise QuantityError(f"cannot add {a} and {b} exactly: too many digits")


def _div_away_from_zero(m: int, places: int) -> int:
    """m / 10**places rounded away from zero, as upstream's int64 path rounds."""
    magnitude = abs(m)
    if places > _ndigits(magnitude):
        quotient = 1  # every digit is below the target unit
    else:
        quotient, remainder = divmod(magnitude, 10**places)
        quotient += 1 if remainder else 0
    return quotient if m > 0 else -quotient


def _format_decimal(m: int, e: int, fmt: str) -> str:
    # Lower the exponent to a multiple of three so it maps onto an SI suffix.
    shift = e % 3
    m, e = m * 10**shift, e - shift
    if fmt == DECIMAL_SI and e in _DECIMAL_BY_EXPONENT:
        return f"{m}{_DECIMAL_BY_EXPONENT[e]}"
    # DecimalExponent, or DecimalSI beyond E (10^18) / below n, which upstream
    # prints in exponent notation rather than dropping the magnitude.
    return f"{m}e{e}" if e else str(m)


def _format_binary(v: int) -> str:
    power = 0
    while power < len(_BINARY_BY_POWER) - 1 and v % 1024 == 0:
        v //= 1024
        power += 1
    return f"{v}{_BINARY_BY_POWER[power]}"


def _skip(s: str, pos: int, chars: str) -> int:
    while pos < len(s) and s[pos] in chars:
        pos += 1
    return pos


def _scan(s: str) -> tuple[bool, str, str, str]:
    """Split s into (negative, integer digits, fraction digits, suffix).

    Mirrors upstream's parseQuantityString, including what it tolerates: the
    number part may be empty ("m", "-", "." parse as zero).
    """
    negative = s[0] == "-"
    pos = 1 if s[0] in "+-" else 0
    pos = _skip(s, pos, "0")  # leading zeros carry no value
    start = pos
    pos = _skip(s, pos, _DIGITS)
    whole = s[start:pos] or "0"
    fraction = ""
    if pos < len(s) and s[pos] == ".":
        start = pos + 1
        pos = _skip(s, start, _DIGITS)
        fraction = s[start:pos]
    start = pos
    pos = _skip(s, pos, _SUFFIX_CHARS)
    if pos < len(s) and s[pos] in "+-":
        pos += 1
    if _skip(s, pos, _DIGITS) != len(s):
        raise QuantityError(_ERR_FORMAT)
    return negative, whole, fraction, s[start:]


def _interpret(suffix: str) -> tuple[int, int, str]:
    """Return (base, exponent, format) for a suffix, as upstream's suffixer."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        try:
            exponent = int(suffix[1:])  # the scanner allows only [+-]?[0-9]* here
        except ValueError:
            raise QuantityError(_ERR_SUFFIX) from None
        if abs(exponent) <= _INT32_MAX:
            return 10, exponent, DECIMAL_EXPONENT
    raise QuantityError(_ERR_SUFFIX)


def _round_to_nano(m: int, e: int) -> tuple[int, int]:
    """Round a non-negative m * 10**e up to a whole number of nano-units."""
    if m == 0 or e >= _NANO:
        return m, e
    return _div_away_from_zero(m, _NANO - e), _NANO


def _as_text(s: object) -> str:
    if isinstance(s, str):
        return s
    if isinstance(s, (int, float)) and not isinstance(s, bool):
        return repr(s)  # YAML `cpu: 1` / `cpu: 0.5`; repr round-trips floats
    raise QuantityError(f"quantity must be a string or a number, not {type(s).__name__}")


def parse_quantity(s: str | int | float | Quantity) -> Quantity:
    """Parse a quantity string (or a YAML number) exactly, as upstream ParseQuantity."""
    if isinstance(s, Quantity):
        return s
    if isinstance(s, str):
        return _parse_text(s)      # memoised: the server parses the same few strings all day
    return _parse(s)


@functools.lru_cache(maxsize=4096)
def _parse_text(s: str) -> Quantity:
    return _parse(s)


def _parse(s) -> Quantity:
    text = _as_text(s)
    if not text:
        raise QuantityError(_ERR_FORMAT)
    negative, whole, fraction, suffix = _scan(text)
    base, exponent, fmt = _interpret(suffix)
    digits = (whole + fraction).rstrip("0")
    scale = len(whole) - len(digits)  # decimal exponent of the last kept digit
    digits = digits.lstrip("0")  # "0.0001" is one significant digit
    if len(digits) > _MAX_DIGITS:
        raise QuantityError(f"quantity has more than {_MAX_DIGITS} significant digits")
    m = int(digits or "0")
    if base == 10:
        scale += exponent
    else:
        m <<= exponent
    m, scale = _round_to_nano(m, scale)
    if fmt == BINARY_SI:
        m, scale, fmt = _clamp_binary(m, scale)
    return Quantity(-m if negative else m, scale, fmt)


def _clamp_binary(m: int, e: int) -> tuple[int, int, str]:
    """Apply upstream's BinarySI rules to a non-negative magnitude."""
    if m == 0:
        return 0, 0, BINARY_SI
    if (m * 10**e > _INT64_MAX) if e >= 0 else (m > _INT64_MAX * 10**-e):
        return _INT64_MAX, 0, BINARY_SI  # upstream silently caps, e.g. "9Ei", "9000000000000.5Mi"
    if e < 0 and _ndigits(m) <= -e:
        return m, e, DECIMAL_SI  # 0 < v < 1 cannot be shown in binary units
    return m, e, BINARY_SI


def cpu_millis(s: str | int | float | Quantity) -> int:
    """Milli-cpu of a quantity such as ``"500m"`` or ``2``, rounded up."""
    return parse_quantity(s).milli_value()


def bytes_value(s: str | int | float | Quantity) -> int:
    """Whole units (bytes for memory) of a quantity such as ``"1Gi"``, rounded up."""
    return parse_quantity(s).value()


def format_millicpu(m: int) -> str:
    """Canonical text for m milli-cpu: 500 -> "500m", 2000 -> "2"."""
    return str(Quantity(m, -3, DECIMAL_SI))
