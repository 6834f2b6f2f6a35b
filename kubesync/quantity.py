"""Kubernetes resource quantities (`500m`, `1Gi`, `1e3`) as exact fractions.

The API server rewrites quantities into a canonical form (`0.5` -> `500m`, `1024Mi` -> `1Gi`), so the
diff compares them by value; capacity sums elsewhere use the same parser. The grammar is the one of
`k8s.io/apimachinery/pkg/api/resource`:

    quantity ::= signedNumber suffix
    suffix   ::= binarySI (Ki Mi Gi Ti Pi Ei) | decimalSI (n u m "" k M G T P E) | (e|E) signedNumber
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

__all__ = ["parse_quantity"]

_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_BINARY = {s: Fraction(2 ** (10 * i)) for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"), start=1)}
_MULTIPLIER = {**_DECIMAL, **_BINARY}

# "1E" is one exa, "1E3" is one thousand: the exponent form needs digits after the letter.
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:[eE](?P<exponent>[+-]?[0-9]+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?))"
)
_MAX_EXPONENT = 1000  # far beyond any real quantity; keeps "1e999999999" from eating the CPU


def parse_quantity(value: Any) -> Fraction:
    """The exact value of a quantity given as a string (`"250m"`), an int or a float; ValueError on garbage."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a quantity: {value!r}")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, Fraction):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a quantity: {value!r}")
        return Fraction(repr(value))  # 0.1 is one tenth, as the YAML author meant, not the nearest binary float
    if not isinstance(value, str):
        raise ValueError(f"not a quantity: {value!r}")
    m = _QUANTITY.fullmatch(value)
    if not m:
        raise ValueError(f"not a quantity: {value!r}")
    number = Fraction(m.group("number"))
    exponent = m.group("exponent")
    if exponent is not None:
        e = int(exponent)
        if abs(e) > _MAX_EXPONENT:
            raise ValueError(f"quantity out of range: {value!r}")
        return number * Fraction(10) ** e
    return number * _MULTIPLIER[m.group("suffix")]
