"""kubesync.diff.quantity: the Kubernetes quantity grammar, exactly (Fractions, not floats)."""

from fractions import Fraction

import pytest

from kubesync.diff.normalize import quantities_equal as quantity_equal
from kubesync.quantity import parse_quantity


@pytest.mark.parametrize(
    "text, value",
    [
        ("0", 0),
        ("1", 1),
        ("+1", 1),
        ("-1", -1),
        ("1.5", Fraction(3, 2)),
        (".5", Fraction(1, 2)),
        ("1.", 1),
        ("500m", Fraction(1, 2)),
        ("100m", Fraction(1, 10)),
        ("250u", Fraction(1, 4000)),
        ("5n", Fraction(5, 10**9)),
        ("1k", 1000),
        ("100M", 10**8),
        ("2G", 2 * 10**9),
        ("1T", 10**12),
        ("1P", 10**15),
        ("1E", 10**18),  # exa, not an exponent without digits
        ("1Ki", 1024),
        ("128Mi", 128 * 2**20),
        ("1Gi", 2**30),
        ("1.5Gi", 3 * 2**29),
        ("1Ti", 2**40),
        ("1Pi", 2**50),
        ("1Ei", 2**60),
        ("1e3", 1000),
        ("1E3", 1000),
        ("1e-3", Fraction(1, 1000)),
        ("1.5e+2", 150),
        ("12e6", 12 * 10**6),
    ],
)
def test_parse_quantity_strings(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("value, expected", [(1, 1), (0, 0), (2.5, Fraction(5, 2)), (0.1, Fraction(1, 10)), (Fraction(1, 3), Fraction(1, 3))])
def test_parse_quantity_numbers(value, expected):
    assert parse_quantity(value) == expected


@pytest.mark.parametrize(
    "garbage",
    ["", " 1", "1 ", "abc", "1Kb", "1ki", "1.2.3", "Mi", "1e", "1e3Mi", "1Gi3", "--1", ".", "1,5", True, False, None, [], {}, float("nan"), float("inf"), "1e999999999"],
)
def test_parse_quantity_rejects_garbage(garbage):
    with pytest.raises(ValueError):
        parse_quantity(garbage)


@pytest.mark.parametrize(
    "a, b",
    [("0.5", "500m"), ("1Gi", "1024Mi"), (1, "1"), ("1e3", "1k"), (0.1, "100m"), ("100M", "100000k"), (268435456, "256Mi"), ("2", 2.0)],
)
def test_quantities_equal_by_value(a, b):
    assert quantity_equal(a, b)


def test_quantities_differ_for_different_values_and_garbage():
    assert not quantity_equal("1G", "1Gi")
    assert not quantity_equal("1", "one")
    assert not quantity_equal(True, 1)
