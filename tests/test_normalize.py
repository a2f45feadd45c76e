"""Seller-name normalization: the store's key, and the name shown to people."""

from __future__ import annotations

import pytest

from collect.normalize import clean_display_name, normalize_seller_name

NORMALIZE_CASES = [
    ("Plain_Seller", "plain_seller"),
    ("  spaced   out\tname \n", "spaced out name"),
    ("ＦＵＬＬＷＩＤＴＨ", "fullwidth"),
    ("ﬁne-goods", "fine-goods"),
    ("Straße", "strasse"),
    ("non\u00a0breaking", "non breaking"),
    ("zero\u200bwidth", "zerowidth"),
    ("joiner\u200c\u200dname", "joinername"),
    ("word\u2060joiner", "wordjoiner"),
    ("\ufeffbom_first", "bom_first"),
    ("soft\u00adhyphen", "softhyphen"),
    ("\u202eevil_rtl\u202c", "evil_rtl"),
    ("bell\x07char\x00", "bellchar"),
    ("lone\ud800surrogate", "lonesurrogate"),
    ("emoji_🛒_shop", "emoji_🛒_shop"),
    ('=HYPERLINK("x")', '=hyperlink("x")'),
    ("\u200b\u200d\ufeff", ""),
    ("   ", ""),
    ("", ""),
]


@pytest.mark.parametrize(
    ("raw", "expected"), NORMALIZE_CASES, ids=[repr(c[0])[:24] for c in NORMALIZE_CASES]
)
def test_normalize_seller_name(raw: str, expected: str) -> None:
    """Each spelling folds to the documented key."""
    assert normalize_seller_name(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [case[0] for case in NORMALIZE_CASES],
    ids=[repr(c[0])[:24] for c in NORMALIZE_CASES],
)
def test_normalize_is_idempotent(raw: str) -> None:
    """A key normalizes to itself, so stored keys can be looked up again."""
    key = normalize_seller_name(raw)
    assert normalize_seller_name(key) == key


DISPLAY_CASES = [
    ("Plain_Seller", "Plain_Seller"),
    ("  Two   Words\t", "Two Words"),
    ("Zero\u200bWidth", "ZeroWidth"),
    ("\u202eRtl\u202c", "Rtl"),
    ("ＦＵＬＬ", "ＦＵＬＬ"),
    ("line\nbreak", "line break"),
    ("\u00ad", ""),
]


@pytest.mark.parametrize(
    ("raw", "expected"), DISPLAY_CASES, ids=[repr(c[0])[:24] for c in DISPLAY_CASES]
)
def test_clean_display_name_keeps_case_and_width(raw: str, expected: str) -> None:
    """The display name loses only invisible characters and extra whitespace."""
    assert clean_display_name(raw) == expected


def test_long_name_is_kept_whole() -> None:
    """A 10 kB name is not cut: cutting could merge two different sellers."""
    name = "A" * 10_000 + "b"
    assert normalize_seller_name(name) == "a" * 10_000 + "b"
