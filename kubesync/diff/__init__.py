"""The diff engine: pure, exact, noise-free. Dicts in, frozen values out; no I/O.

    normalize_desired / normalize_live   what the server owns or rewrites is dropped or rewritten
    diff(desired, live, last_applied)    three-way -> ObjectDiff(patch: RFC 6902 ops against live)
    fieldset_of / encode / decode        the fields kubesync set, kept in one annotation
    parse_quantity                       `500m`, `1Gi`, `1e3` -> Fraction
"""

from kubesync.diff import fieldset
from kubesync.diff.fieldset import FieldSet, decode, encode, fieldset_of, last_applied_of
from kubesync.diff.mergekeys import MERGE_KEYS, MergeRule, merge_rule
from kubesync.diff.normalize import IgnoreMatcher, IgnoreRule, is_quantity_path
from kubesync.quantity import parse_quantity
from kubesync.diff.threeway import ObjectDiff, contains, diff, diff_iter, normalize_desired, normalize_live

__all__ = [
    "FieldSet",
    "IgnoreMatcher",
    "IgnoreRule",
    "MERGE_KEYS",
    "MergeRule",
    "ObjectDiff",
    "contains",
    "decode",
    "diff",
    "diff_iter",
    "encode",
    "fieldset",
    "fieldset_of",
    "is_quantity_path",
    "last_applied_of",
    "merge_rule",
    "normalize_desired",
    "normalize_live",
    "parse_quantity",
]
