"""Seller names: the key a seller is stored under, and the name shown to people.

eBay usernames reach us through HTML and JSON written by many hands: full-width
letters, non-breaking spaces, zero-width joiners pasted from chat apps, bidi
overrides. Two spellings that look the same to a person must land on one seller,
so the store keys sellers by `normalize_seller_name` and keeps the display name
(`clean_display_name`) as last seen.
"""

from __future__ import annotations

import re
import unicodedata

# Control (Cc) and format (Cf) characters are invisible or reorder text; the
# format category already holds the zero-width characters, the BOM, the soft
# hyphen and the bidi overrides, so this set only makes the intent explicit.
# Lone surrogates (Cs) come from badly decoded bytes and cannot be encoded as
# UTF-8 at all. Unassigned code points stay: they may be emoji newer than
# Python's Unicode tables, and dropping them could merge two distinct sellers.
_ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
_WHITESPACE_RUN = re.compile(r"\s+")


def normalize_seller_name(name: str) -> str:
    """The key two spellings of one seller share; empty when nothing is left.

    NFKC folds compatibility forms (full-width letters, ligatures, NBSP) before
    case folding; NFKC runs again afterwards because case folding can produce
    sequences that are not in normal form (e.g. some Greek and Cherokee letters).
    """
    text = unicodedata.normalize("NFKC", name)
    text = unicodedata.normalize("NFKC", text.casefold())
    return _collapse(_drop_invisible(text))


def clean_display_name(name: str) -> str:
    """The name as seen, minus invisible characters and stray whitespace."""
    return _collapse(_drop_invisible(name))


def _drop_invisible(text: str) -> str:
    # Whitespace controls (tab, newline) separate words, so they become spaces
    # rather than disappearing and gluing two words together.
    if text.isascii() and text.isprintable():
        return text
    return "".join(
        " " if char.isspace() else char for char in text if _is_visible(char)
    )


def _is_visible(char: str) -> bool:
    if char.isspace():
        return True
    if char in _ZERO_WIDTH:
        return False
    return unicodedata.category(char) not in _INVISIBLE_CATEGORIES


def _collapse(text: str) -> str:
    return _WHITESPACE_RUN.sub(" ", text).strip()
