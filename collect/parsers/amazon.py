"""Amazon best-seller lists, and the price and text cleaning every parser shares.

`parse_bestsellers` reads the parsed `content` of an Oxylabs `amazon_bestsellers`
answer (not the envelope: see `collect.parsers.oxylabs.unwrap_result`). Prices arrive
in many shapes (floats, "$1,299.99", ranges, 0, "", "N/A", None, Rainforest-style
objects, or no key at all); `parse_price` turns each into (amount, currency) or
(None, None), and the eBay parsers use it too, because eBay shows prices the same way.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from collect.errors import EmptyCategory, ParseError
from collect.models import BestSellersPage, Product, RejectedProduct

NO_PRICE = "no usable price"
NO_ASIN = "no ASIN"
NO_TITLE = "no title"
MALFORMED = "not a product entry"

# Control characters (but not \t\n\v\f\r, which split() collapses), soft hyphen,
# zero-width spaces and joiners, bidi marks, word joiners, BOM, lone surrogates.
# Done with one regex because pages are megabytes; _DROPPED catches the rest.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x9f\xad\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\ufeff\ud800-\udfff]"
)
_DROPPED = frozenset({"Cc", "Cf", "Cs"})
# A price string longer than this is not a price; refusing it keeps regexes cheap.
_MAX_PRICE_TEXT = 100
# No listing costs this much in any currency (IDR included); bigger is garbage.
_MAX_AMOUNT = 1e12
_NUMBER = re.compile(r"\d[\d.,]*")
_ASIN = re.compile(r"[A-Z0-9]{10}")
_ISO_CODE = re.compile(r"[A-Z]{3}")

# Longest first: "US $" and "C $" must win over a bare "$".
_SYMBOLS = (
    ("US $", "USD"),
    ("AU $", "AUD"),
    ("CA $", "CAD"),
    ("C $", "CAD"),
    ("NZ $", "NZD"),
    ("HK $", "HKD"),
    ("S$", "SGD"),
    ("R$", "BRL"),
    ("$", "USD"),
    ("£", "GBP"),
    ("€", "EUR"),
    ("¥", "JPY"),
    ("₹", "INR"),
    ("RM", "MYR"),
    ("zł", "PLN"),
)

# Codes recognised next to a number; a closed list, so that "12.99 and up" does not
# read as the currency "AND".
# fmt: off
_KNOWN_CODES = frozenset({
    "USD", "EUR", "GBP", "CAD", "AUD", "NZD", "JPY", "CNY", "HKD", "SGD", "INR", "IDR",
    "MYR", "PHP", "THB", "VND", "KRW", "TWD", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK",
    "HUF", "RON", "TRY", "ILS", "AED", "SAR", "ZAR", "MXN", "BRL", "ARS", "CLP", "COP",
})
# fmt: on

# Where a parsed best-seller page keeps its products. Oxylabs uses `results`; the
# others are what its search parser or other vendors use for the same list.
PRODUCT_KEYS = ("results", "bestsellers", "products", "items")
_TITLE_KEYS = ("title", "page_title", "category_name", "category")
_TITLE_PREFIXES = ("amazon best sellers:", "best sellers in ", "best sellers:", "best ")


def clean_text(value: object) -> str:
    """Text as a person would read it: no control or zero-width characters,
    whitespace collapsed, stripped. Anything that is not a string gives ""."""
    if not isinstance(value, str):
        return ""
    text = " ".join(_INVISIBLE.sub("", value).split())
    if text.isprintable():
        return text
    # Rare: a format character outside the common ranges above.
    return "".join(ch for ch in text if unicodedata.category(ch) not in _DROPPED)


def parse_price(raw: object) -> tuple[float | None, str | None]:
    """(amount, currency) from any price shape, or (None, None) if not usable.

    A usable amount is a finite number above zero; for a range the low end is
    taken. Booleans are refused although Python counts them as integers.
    """
    if isinstance(raw, bool) or raw is None:
        return None, None
    if isinstance(raw, int | float):
        return _usable(_as_float(raw)), None
    if isinstance(raw, str):
        return _price_from_text(raw)
    if isinstance(raw, Mapping):
        return _price_from_mapping(raw)
    return None, None


def _as_float(number: float) -> float | None:
    try:
        return float(number)
    except OverflowError:  # an int beyond float range
        return None


def _usable(amount: float | None) -> float | None:
    if amount is None or not math.isfinite(amount) or not 0 < amount < _MAX_AMOUNT:
        return None
    return amount


def _price_from_text(text: str) -> tuple[float | None, str | None]:
    text = clean_text(text)
    if not text or len(text) > _MAX_PRICE_TEXT:
        return None, None

    # The first number is the low end of "$12.99 - $24.99" and "$10.44 to $15.96".
    match = _NUMBER.search(text)
    if match is None or text[: match.start()].rstrip().endswith(("-", "\u2212")):
        return None, None
    amount = _usable(_number_from_text(match.group()))
    if amount is None:
        return None, None
    before, after = text[: match.start()], text[match.end() :]
    return amount, _currency_before(before) or _currency_after(after)


def _number_from_text(token: str) -> float | None:
    """A number written with thousands separators, in US or European style."""
    token = token.rstrip(".,")
    last_dot, last_comma = token.rfind("."), token.rfind(",")
    if last_dot >= 0 and last_comma >= 0:
        # Both present: whichever comes last separates the decimals.
        decimal = "." if last_dot > last_comma else ","
    elif last_comma >= 0:
        # "1,299" is thousands; "12,99" (eBay.de, Amazon.fr) is decimals.
        decimal = "," if len(token) - last_comma - 1 != 3 else ""
    elif token.count(".") > 1:
        decimal = ""
    else:
        decimal = "."
    thousands = {".": ",", ",": ".", "": ",."}[decimal]
    digits = token.translate({ord(sep): None for sep in thousands})
    try:
        return float(digits.replace(",", ".")) if digits else None
    except ValueError:
        return None


def _currency_before(text: str) -> str | None:
    """The currency of "US $12", "IDR1,196,065.67", "EUR 12,99"."""
    text = text.strip().upper()
    for symbol, code in _SYMBOLS:
        if text.endswith(symbol.upper()):
            return code
    words = text.split()
    return words[-1] if words and words[-1] in _KNOWN_CODES else None


def _currency_after(text: str) -> str | None:
    """The currency of "12,99 €" and "12.99 USD"."""
    text = text.strip().upper()
    for symbol, code in _SYMBOLS:
        if text.startswith(symbol.upper()):
            return code
    words = text.split()
    return words[0] if words and words[0] in _KNOWN_CODES else None


def _price_from_mapping(raw: Mapping[Any, Any]) -> tuple[float | None, str | None]:
    """Rainforest's `{symbol, value, currency, raw}` and eBay's `{value, currency}`."""
    amount, currency = parse_price(raw.get("value", raw.get("amount")))
    if amount is None:
        amount, currency = parse_price(raw.get("raw"))
    if amount is None:
        return None, None
    code = _currency_code(raw.get("currency"))
    symbol = _currency_before(clean_text(raw.get("symbol")))
    return amount, code or currency or symbol


def _currency_code(value: object) -> str | None:
    text = clean_text(value).upper()
    return text if _ISO_CODE.fullmatch(text) else None


def parse_bestsellers(content: dict | list, node_id: str = "") -> BestSellersPage:
    """Products and rejected entries of one parsed best-seller page.

    Raises EmptyCategory for "Best undefined" or a page without products, and
    ParseError (stage product_extraction) when `content` holds no product list.
    """
    entries = _product_entries(content)
    title = _page_title(content)
    if title.casefold().endswith("best undefined") or title.casefold() == "undefined":
        raise EmptyCategory(f"best-seller node {node_id or '?'} is 'Best undefined'")
    if not entries:
        raise EmptyCategory(f"best-seller node {node_id or '?'} lists no products")
    _require_amazon_entries(entries)

    products: list[Product] = []
    rejected: list[RejectedProduct] = []
    for index, entry in enumerate(entries, start=1):
        outcome = _read_product(entry, index, node_id)
        (products if isinstance(outcome, Product) else rejected).append(outcome)
    return BestSellersPage(products, rejected, _category_name(title))


def _product_entries(content: object) -> list[Any]:
    if isinstance(content, list):
        return content
    if not isinstance(content, Mapping):
        raise ParseError(
            f"best-seller content is {type(content).__name__}, not an object",
            stage="product_extraction",
        )
    for key in PRODUCT_KEYS:
        value = content.get(key)
        if isinstance(value, Mapping):
            # Oxylabs' search parser nests the list: results.organic.
            value = value.get("organic")
        if isinstance(value, list):
            return value
    raise ParseError(
        "best-seller content has no product list "
        f"(looked for {', '.join(PRODUCT_KEYS)}, results.organic)",
        stage="product_extraction",
    )


def _require_amazon_entries(entries: Iterable[Any]) -> None:
    """A list where no entry has an ASIN is another kind of answer, not products."""
    for entry in entries:
        if isinstance(entry, Mapping) and ("asin" in entry or "ASIN" in entry):
            return
        if isinstance(entry, Mapping) and "job_id" in entry and "content" in entry:
            raise ParseError(
                "got an Oxylabs envelope; pass results[0].content",
                stage="product_extraction",
            )
    raise ParseError(
        "no entry has an ASIN: not an Amazon product list",
        stage="product_extraction",
    )


def _page_title(content: object) -> str:
    if not isinstance(content, Mapping):
        return ""
    for key in _TITLE_KEYS:
        if title := clean_text(content.get(key)):
            return title
    return ""


def _category_name(title: str) -> str | None:
    """ "Amazon Best Sellers: Best Women's Clothing" -> "Women's Clothing"."""
    name = title
    for prefix in _TITLE_PREFIXES:
        if name.casefold().startswith(prefix):
            name = name[len(prefix) :].strip()
    return name or None


def _read_product(entry: object, index: int, node_id: str) -> Product | RejectedProduct:
    if not isinstance(entry, Mapping):
        return RejectedProduct("", "", None, MALFORMED, index)
    asin = clean_text(entry.get("asin", entry.get("ASIN")))
    title = clean_text(entry.get("title"))
    raw_price = entry.get("price")
    position = _position(entry, index)

    if not _ASIN.fullmatch(asin):
        return RejectedProduct(asin, title, raw_price, NO_ASIN, position)
    if not title:
        return RejectedProduct(asin, title, raw_price, NO_TITLE, position)
    price, price_currency = parse_price(raw_price)
    if price is None:
        return RejectedProduct(asin, title, raw_price, NO_PRICE, position)

    currency = _currency_code(entry.get("currency")) or price_currency
    return Product(asin, title, price, currency, position, node_id)


def _position(entry: Mapping[Any, Any], index: int) -> int:
    for key in ("pos", "rank", "position"):
        value = entry.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return index
