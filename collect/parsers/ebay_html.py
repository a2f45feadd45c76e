"""eBay search-result pages (`/sch/i.html`): one seller sighting per listing card.

Two card layouts are in use: `li.s-card` (2025 on) and the older `li.s-item`. An
s-card names its seller in one of two ways:

- usual: two spans, `USERNAME ` then `99.5% positive (3.3K)`;
- Top Rated: one span `USERNAME  100% positive (5.2K)`, nested in tooltip markup whose
  outer spans also contain the feedback words, so the innermost match is the row.

Grid-view pages carry no seller rows at all: such a page gives zero sightings, which
is an answer, not an error. A bot check ("Pardon Our Interruption") raises Blocked,
and anything that is not a results page raises ParseError.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from selectolax.lexbor import LexborHTMLParser, LexborNode

from collect.errors import Blocked, ParseError
from collect.models import SearchPage, SellerSighting
from collect.parsers.amazon import clean_text, parse_price

# eBay caps usernames at 64 characters; longer text in a seller row is not a name.
MAX_SELLER_NAME = 64

# A seller row, even inside Top Rated tooltip markup, is a few hundred characters.
_MAX_ROW_TEXT = 2_000
_CARDS = "li.s-card, li.s-item"
_TITLE = ".s-card__title, .s-item__title"
# Present on every results page, including one with zero results.
_RESULTS_MARKERS = (
    "ul.srp-results, .srp-river-results, .srp-controls__count-heading, "
    ".srp-save-null-search"
)
_PLACEHOLDER_TITLE = "shop on ebay"
_PLACEHOLDER_ITEM_ID = "123456"

_FEEDBACK = re.compile(
    r"(?<![\d.])(?P<percent>\d{1,3}(?:\.\d+)?)\s*%\s*positive\s*"
    r"\(\s*(?P<count>\d[\d,]*(?:\.\d+)?)\s*(?P<unit>[KkMm]?)\s*\)"
)
# Older s-item rows: "username (12,345) 99.5%".
_SITEM_SELLER = re.compile(
    r"^(?P<name>\S+)\s+\(\s*(?P<count>\d[\d,]*(?:\.\d+)?)\s*(?P<unit>[KkMm]?)\s*\)"
    r"\s+(?P<percent>\d{1,3}(?:\.\d+)?)\s*%"
)
_NOT_IN_USERNAME = re.compile(r"[\s@&'\"<>]")
_UNITS = {"": 1, "k": 1_000, "m": 1_000_000}
_ITEM_ID = re.compile(r"/itm/(?:[^/?#]*/)?(\d{6,20})(?:[/?#]|$)")
_HIDDEN_TITLE_SUFFIX = "Opens in a new window or tab"

# eBay's bot-check pages, by title or visible text. A real results page never
# lacks the results list, so these are only consulted when that list is missing.
_CHALLENGE = re.compile(
    rb"pardon our interruption|checking your browser before you access ebay"
    rb"|<title[^>]*>\s*security measure|/splashui/(?:challenge|captcha)",
    re.IGNORECASE,
)


def looks_blocked(html: bytes | str) -> bool:
    """Whether this document is eBay's bot check rather than a results page."""
    data = html.encode("utf-8", "replace") if isinstance(html, str) else html
    return _CHALLENGE.search(data) is not None


def parse_search_page(html: bytes | str) -> SearchPage:
    """Seller sightings, listing counts and pagination of one search page."""
    tree = _parse_tree(html)
    cards = tree.css(_CARDS)
    if not cards and tree.css_first(_RESULTS_MARKERS) is None:
        if looks_blocked(html):
            raise Blocked("eBay answered with a bot check instead of results")
        raise ParseError("not an eBay search-results page (no result list found)")
    if _is_truncated(html):
        # A body cut in transit still parses, as a page with fewer cards and no
        # next link: taken as complete it would end the product's search early.
        raise ParseError("the page is truncated (it has no closing </html> tag)")

    sightings: list[SellerSighting] = []
    listings = placeholders = 0
    for card in cards:
        if _is_placeholder(card):
            placeholders += 1
            continue
        listings += 1
        if (sighting := _read_card(card)) is not None:
            sightings.append(sighting)
    return SearchPage(sightings, listings, placeholders, _has_next(tree))


def _is_truncated(html: bytes | str) -> bool:
    tail = html[-2048:]
    if isinstance(tail, str):
        tail = tail.encode("utf-8", "replace")
    return b"</html>" not in tail.lower()


def _parse_tree(html: bytes | str) -> LexborHTMLParser:
    if not isinstance(html, bytes | str):
        raise ParseError(f"expected HTML, got {type(html).__name__}")
    if not html.strip():
        raise ParseError("empty document where an eBay search page was expected")
    if isinstance(html, str):
        # Lone surrogates cannot reach the parser's UTF-8 buffer.
        html = html.encode("utf-8", "replace")
    return LexborHTMLParser(html)


def _is_placeholder(card: LexborNode) -> bool:
    """eBay's "Shop on eBay" filler cards: a fixed title and a fake item URL."""
    title = _card_title(card) or ""
    return title.casefold() == _PLACEHOLDER_TITLE or (
        _card_item_id(card) == _PLACEHOLDER_ITEM_ID
    )


def _read_card(card: LexborNode) -> SellerSighting | None:
    seller = _seller_row(card)
    if seller is None:
        return None
    name, percent, count = seller
    price, currency = _card_price(card)
    return SellerSighting(
        seller=name,
        feedback_percent=percent,
        feedback_count=count,
        item_id=_card_item_id(card),
        title=_card_title(card),
        price=price,
        currency=currency,
    )


def _seller_row(card: LexborNode) -> tuple[str, float, int] | None:
    """(name, feedback %, feedback count) from whichever row form the card uses."""
    for node in card.css(".s-item__seller-info-text"):
        match = _SITEM_SELLER.match(clean_text(node.text()))
        if match and (name := _seller_name(match["name"])):
            return name, *_feedback(match)

    row = _innermost_feedback_span(card)
    if row is None:
        return None
    node, match, text = row
    # Top Rated form: the name shares the span with the feedback.
    name = _seller_name(text[: match.start()])
    if name is None:
        name = _seller_name(_previous_element_text(node))
    return (name, *_feedback(match)) if name else None


# A real card's attribute block holds about 20 spans; reading the text of each span
# of a deeply nested one costs O(depth) apiece, so hostile markup is cut short here.
_MAX_ROW_SPANS = 200


def _innermost_feedback_span(
    card: LexborNode,
) -> tuple[LexborNode, re.Match[str], str] | None:
    scope = card.css_first(".su-card-container__attributes") or card
    title = card.css_first(_TITLE)
    title_text = clean_text(title.text()) if title is not None else ""
    found = None
    for span in scope.css("span")[:_MAX_ROW_SPANS]:
        raw = span.text()
        if len(raw) > _MAX_ROW_TEXT:
            continue
        match = _FEEDBACK.search(text := clean_text(raw))
        if match is None or _in_title(span, match, title, title_text):
            continue
        # Spans come in document order, so a later match inside an earlier one
        # is its descendant: keep the last match of a nested chain.
        if found is not None and not _contains(found[0], span):
            break
        found = (span, match, text)
    return found


def _in_title(
    span: LexborNode, match: re.Match[str], title: LexborNode | None, title_text: str
) -> bool:
    # A listing titled "... 100% positive (5) ..." must not pass for a seller row.
    # The text test first: walking up from every span would be slow on deep markup.
    return title is not None and match.group() in title_text and _contains(title, span)


def _contains(ancestor: LexborNode, node: LexborNode) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.mem_id == ancestor.mem_id:
            return True
        parent = parent.parent
    return False


def _previous_element_text(node: LexborNode) -> str:
    sibling = node.prev
    while sibling is not None and sibling.tag in ("-text", "-comment"):
        sibling = sibling.prev
    return sibling.text() if sibling is not None else ""


def _seller_name(raw: str) -> str | None:
    name = clean_text(raw)
    # eBay usernames have no spaces and none of @ & ' < >: text with them is a
    # label or injected markup, not a name.
    if not name or len(name) > MAX_SELLER_NAME or _NOT_IN_USERNAME.search(name):
        return None
    return name


def _feedback(match: re.Match[str]) -> tuple[float, int]:
    percent = float(match["percent"])
    try:
        count = Decimal(match["count"].replace(",", ""))
    except InvalidOperation:
        count = Decimal(0)
    return percent, int(count * _UNITS[match["unit"].lower()])


def _card_title(card: LexborNode) -> str | None:
    node = card.css_first(_TITLE)
    if node is None:
        return None
    title = clean_text(" ".join(_visible_text(node)))
    return title.removesuffix(_HIDDEN_TITLE_SUFFIX).strip() or None


def _visible_text(node: LexborNode) -> list[str]:
    parts: list[str] = []
    for child in node.iter(include_text=True):
        if child.is_text_node:
            parts.append(child.text(deep=False))
        elif child.is_element_node and not _is_hidden(child):
            parts.extend(_visible_text(child))
    return parts


def _is_hidden(node: LexborNode) -> bool:
    # "Opens in a new window or tab" for screen readers; the "New Listing" badge.
    classes = (node.attributes.get("class") or "").split()
    return "clipped" in classes or "LIGHT_HIGHLIGHT" in classes


def _card_item_id(card: LexborNode) -> str | None:
    for link in card.css("a[href]"):
        match = _ITEM_ID.search(link.attributes.get("href") or "")
        if match:
            return match.group(1)
    listing_id = clean_text(card.attributes.get("data-listingid"))
    return listing_id if listing_id.isdigit() else None


def _card_price(card: LexborNode) -> tuple[float | None, str | None]:
    # A range is split over three s-card__price spans ("$7.99", " to ", "$9.89"):
    # the first holds the low end. An s-item range is one string.
    node = card.css_first(".s-card__price, .s-item__price")
    if node is None:
        return None, None
    return parse_price(node.text(separator=" "))


def _has_next(tree: LexborHTMLParser) -> bool:
    """An enabled "next page" link; on the last page it is a disabled button."""
    node = tree.css_first(".pagination__next")
    if node is None or node.tag != "a":
        return False
    attributes = node.attributes
    disabled = (attributes.get("aria-disabled") or "").lower() == "true"
    return (
        bool(attributes.get("href")) and not disabled and "disabled" not in attributes
    )
