"""Deterministic synthetic data for the sandbox: best-seller lists and eBay searches.

Everything here is a pure function of the seed and a key (node id, or query and page):
the same inputs always give the same products, sellers and markup. The data never
depends on the fault dice or on the price band in the search URL, so a run with injected
faults finds exactly the sellers a clean run finds. No HTTP here: `server` wraps these
values in Oxylabs envelopes.

The markup imitates the structure of eBay's s-card result pages (placeholder cards in a
clipped block before the results list, titles with a hidden suffix, prices split over
three spans for ranges, two forms of seller row, pagination with a next link only when
there is a next page). `search_page_truth` returns what a correct parser must extract.
"""

from __future__ import annotations

import hashlib
import html
import random
import string
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import accumulate
from typing import Protocol
from urllib.parse import quote_plus

from collect.models import SearchPage, SellerSighting

EBAY_PAGE_SIZE = 60
AMAZON_PAGES = 2
GLOBAL_POOL_SIZE = 240
GLOBAL_POOL_SHARE = 0.10
GRID_QUERY_SHARE = 0.05
ZIPF_EXPONENT = 1.1
PLACEHOLDERS_PER_PAGE = 2
HIDDEN_TITLE_SUFFIX = "Opens in a new window or tab"
BLOCKED_TITLE = "Pardon Our Interruption..."


class SynthSettings(Protocol):
    """The part of the sandbox configuration that shapes the data."""

    @property
    def products_per_category(self) -> int: ...

    @property
    def seller_population(self) -> int: ...


def stable_rng(*parts: object) -> random.Random:
    """A generator seeded from a stable digest of `parts` (never `hash()`, which is
    salted per process, so children started with `spawn` would disagree)."""
    key = "\x1f".join(str(part) for part in parts).encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def normalize_query(query: str) -> str:
    """The key a search page is generated from: case and spacing do not matter."""
    return " ".join(query.casefold().split())


# --- feedback text -------------------------------------------------------------------


def format_feedback_count(count: int) -> str:
    """Render a feedback count the way eBay prints it: 810, 3.3K, 4K, 1.6M."""
    if count < 1000:
        return str(count)
    tenths = (count + 50) // 100
    if tenths < 10_000:
        return _tenths_text(tenths) + "K"
    return _tenths_text((count + 50_000) // 100_000) + "M"


def _tenths_text(tenths: int) -> str:
    whole, fraction = divmod(tenths, 10)
    return f"{whole}.{fraction}" if fraction else str(whole)


def parse_feedback_count(text: str) -> int:
    """The count a reader gets back from `format_feedback_count` text."""
    multiplier = {"K": 1000, "M": 1_000_000}.get(text[-1:], 1)
    digits = text[:-1] if multiplier > 1 else text
    return round(float(digits) * multiplier)


def displayed_feedback_count(count: int) -> int:
    """The precision eBay shows: a page can only ever tell a parser this much."""
    return parse_feedback_count(format_feedback_count(count))


def format_feedback_percent(percent: float) -> str:
    """eBay drops a trailing `.0`: `100%`, `98%`, `99.5%`."""
    return f"{percent:.1f}".removesuffix(".0")


# --- sellers -------------------------------------------------------------------------

_NAME_WORDS = (
    "deal", "shop", "trading", "goods", "outlet", "direct", "vintage", "retro",
    "card", "home", "gear", "bargain", "supply", "market", "store", "depot",
    "finds", "treasure", "wholesale", "prime", "best", "super", "mega", "happy",
    "sunny", "blue", "red", "eagle", "fox", "maple", "harbor", "summit", "pixel",
    "nova", "urban", "coastal", "prairie", "galaxy", "cedar", "lucky",
)  # fmt: skip
_FIRST_NAMES = (
    "mike", "jen", "sam", "alex", "chris", "kim", "lee", "pat", "dana", "rob",
    "tony", "lisa", "matt", "nina", "omar", "ravi", "yuki", "zoe", "ivan", "elle",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Seller:
    """One member of the synthetic seller population; the count is shown-precision."""

    name: str
    feedback_percent: float
    feedback_count: int
    top_rated: bool

    @property
    def feedback_text(self) -> str:
        percent = format_feedback_percent(self.feedback_percent)
        return f"{percent}% positive ({format_feedback_count(self.feedback_count)})"


@lru_cache(maxsize=16)
def seller_population(seed: int, size: int) -> tuple[Seller, ...]:
    """A fixed population; index 0 is the most popular seller (see `pick_sellers`)."""
    rng = stable_rng(seed, "sellers", size)
    taken: set[str] = set()
    sellers = []
    for rank in range(size):
        name = _unique_name(rng, taken)
        sellers.append(_make_seller(rng, name, rank / max(size, 1)))
    return tuple(sellers)


def _unique_name(rng: random.Random, taken: set[str]) -> str:
    name = _seller_name(rng)
    while name.casefold() in taken:
        name += str(rng.randrange(10))
    taken.add(name.casefold())
    return name


def _seller_name(rng: random.Random) -> str:
    """Usernames in the shapes eBay allows: `.`, `-`, `_`, `*`, digits, mixed case."""
    word, other = rng.sample(_NAME_WORDS, 2)
    first = rng.choice(_FIRST_NAMES)
    digits = str(rng.randrange(1, 999_999))
    shapes = (
        f"{word}{other}{digits[:3]}",
        f"{first[:3]}_{digits}",
        f"{word}-{other}-{rng.choice(_NAME_WORDS)}",
        f"{first}.{word}.{other}",
        f"{first.title()}{word.title()}{other.title()}",
        f"{word}*{other}",
        f"{first}{digits[:4]}",
        f"{word}_{other}_llc",
        f"{first}-{digits}",
        f"{word.upper()}{other}{digits[:2]}",
    )
    return rng.choice(shapes)


def _make_seller(rng: random.Random, name: str, rank_share: float) -> Seller:
    # Popular sellers (low rank) are the big stores with large feedback counts.
    if rank_share < 0.05:
        raw_count = int(10 ** rng.uniform(4.3, 6.4))
    else:
        raw_count = int(10 ** rng.uniform(0, 5.3)) - 1
    count = displayed_feedback_count(raw_count)
    percent = _feedback_percent(rng, count)
    top_rated = count >= 1000 and percent >= 99.5 and rng.random() < 0.5
    return Seller(name, percent, count, top_rated)


def _feedback_percent(rng: random.Random, count: int) -> float:
    if count < 5 and rng.random() < 0.4:
        return 0.0
    if rng.random() < 0.35:
        return 100.0
    return round(max(50.0, 100.0 - rng.expovariate(1 / 0.8)), 1)


@lru_cache(maxsize=16)
def _zipf_cum_weights(size: int) -> tuple[float, ...]:
    weights = (1.0 / (rank + 1) ** ZIPF_EXPONENT for rank in range(size))
    return tuple(accumulate(weights))


def pick_sellers(
    rng: random.Random, population: tuple[Seller, ...], k: int
) -> list[Seller]:
    """Zipf-like draw: a few sellers appear on many products, most on one or two."""
    cum = _zipf_cum_weights(len(population))
    return rng.choices(population, cum_weights=cum, k=k)


# --- Amazon best sellers -------------------------------------------------------------

_DEPARTMENTS = (
    ("Kitchen-Dining", "kitchen", ("Water Bottle", "Air Fryer Liners", "Knife Set",
     "Coffee Grinder", "Food Storage Containers", "Cutting Board", "Tumbler")),
    ("Electronics", "electronics", ("Wireless Earbuds", "USB C Charger", "Phone Case",
     "HDMI Cable", "Bluetooth Speaker", "Power Bank", "Screen Protector")),
    ("Womens-Clothing", "fashion", ("Tank Top", "Wide Leg Pants", "Wireless Bra",
     "Maxi Dress", "Cardigan Sweater", "Leggings", "Crew Socks")),
    ("Toys-Games", "toys-and-games", ("Building Blocks Set", "Plush Toy", "Card Game",
     "Kinetic Sand", "Remote Control Car", "Puzzle", "Bubble Machine")),
    ("Beauty", "beauty", ("Lip Balm", "Hair Clips", "Sunscreen SPF 50", "Face Serum",
     "Makeup Sponge", "Nail Polish Set", "Dry Shampoo")),
    ("Pet-Supplies", "pet-supplies", ("Dog Chew Toy", "Cat Litter Mat",
     "Pet Hair Remover", "Dog Leash", "Cat Scratcher", "Slow Feeder Bowl",
     "Poop Bags")),
)  # fmt: skip
_BRANDS = (
    "LUMORA", "Kestrel & Co", "VoltEdge", "Nordhaven", "PUREFIT", "Glimmerline",
    "Hearthstone Home", "ZENBLISS", "Trekker", "Aqualis", "BrightNest", "Quillon",
    "Marlowe", "OAKVALE", "Sproutly", "Tidewell", "NEXORA", "Copperleaf", "Fennix",
    "Solvana", "KIDDOLAB", "Ember & Rye", "Vantro", "Pawsome Pals",
)  # fmt: skip
_ATTRIBUTES = (
    "Stainless Steel", "BPA Free", "Rechargeable", "for Women", "for Men", "2-Pack",
    "Large Capacity", "Leak-Proof", "Non-Slip", "Waterproof", "Dishwasher Safe",
    "Soft Touch", "Gift for Kids", "Travel Size", "Fast Charging", "Adjustable",
    "Ultra Thin", "Heavy Duty", "Multipack", "Eco Friendly", "Summer 2026",
    "with Pockets", "Hypoallergenic", "Portable", "Compact Design",
)  # fmt: skip
_DECORATIONS = ("™", "®", " –", " 🔥", " ✨", " 🎁")
_ASIN_CHARS = string.ascii_uppercase + string.digits


def bestsellers_content(
    seed: int, node_id: str, page: int, config: SynthSettings
) -> dict:
    """The parsed `amazon_bestsellers` content for one page, shaped like Oxylabs'.

    A node id that is not a number has no best-seller list (Amazon shows "Best
    undefined"): its pages hold no products.
    """
    slug, department, _ = _department(node_id)
    per_page = config.products_per_category
    products = category_products(seed, node_id, per_page * AMAZON_PAGES)
    first = (page - 1) * per_page
    return {
        "url": f"https://www.amazon.com/Best-Sellers-{slug}/zgbs/{department}/{node_id}",
        "page": page,
        "query": node_id,
        "results": [dict(product) for product in products[first : first + per_page]],
        "parse_status_code": 12000,
    }


def category_name(node_id: str) -> str:
    """The department a synthetic node id belongs to, e.g. "Kitchen Dining"."""
    return _department(node_id)[0].replace("-", " ")


def _department(node_id: str) -> tuple[str, str, tuple[str, ...]]:
    digest = hashlib.blake2b(node_id.encode(), digest_size=2).digest()
    return _DEPARTMENTS[int.from_bytes(digest, "big") % len(_DEPARTMENTS)]


@lru_cache(maxsize=512)
def category_products(seed: int, node_id: str, count: int) -> tuple[dict, ...]:
    """All ranked products of one category; about a tenth come from a global pool, so
    the same ASIN turns up in several categories."""
    if not node_id.isdigit():
        return ()
    rng = stable_rng(seed, "amazon", node_id)
    nouns = _department(node_id)[2]
    pool = _global_pool(seed)
    seen: set[str] = set()
    products = []
    while len(products) < count:
        if rng.random() < GLOBAL_POOL_SHARE:
            product = dict(rng.choice(pool))
        else:
            product = _make_product(rng, rng.choice(nouns))
        if product["asin"] in seen:
            continue
        seen.add(product["asin"])
        products.append(_ranked(product, len(products) + 1))
    return tuple(products)


def _ranked(product: dict, position: int) -> dict:
    # Oxylabs puts `pos` and `url` first; key order is kept for realism only.
    return {"pos": position, "url": f"/dp/{product['asin']}", **product}


@lru_cache(maxsize=16)
def _global_pool(seed: int) -> tuple[dict, ...]:
    rng = stable_rng(seed, "amazon-pool")
    nouns = [
        noun for _, _, department_nouns in _DEPARTMENTS for noun in department_nouns
    ]
    return tuple(_make_product(rng, rng.choice(nouns)) for _ in range(GLOBAL_POOL_SIZE))


def _make_product(rng: random.Random, noun: str) -> dict:
    asin = "B0" + "".join(rng.choices(_ASIN_CHARS, k=8))
    product: dict = {
        "asin": asin,
        "title": _product_title(rng, noun),
        "currency": "USD",
        "ratings_count": int(10 ** rng.uniform(1, 5.2)),
    }
    _set_price(rng, product)
    return product


def _product_title(rng: random.Random, noun: str) -> str:
    """Brand, noun, then attributes; a share run long (Amazon allows 200 characters)."""
    brand = rng.choice(_BRANDS)
    if rng.random() < 0.15:
        brand += rng.choice(_DECORATIONS)
    target = 200 if rng.random() < 0.2 else rng.randrange(40, 130)
    words = [brand, noun]
    for attribute in rng.sample(_ATTRIBUTES, len(_ATTRIBUTES)):
        if len(" ".join([*words, attribute])) > target:
            break
        words.append(attribute)
    title = " ".join(words)
    if rng.random() < 0.05 and len(title) < 198:
        title += rng.choice((" 🔥", " ✨"))
    return title[:200]


# Shares of the price forms the real API has been seen to return (see samples README).
_PRICE_FORMS = (
    ("float", 0.78),
    ("absent", 0.04),
    ("null", 0.03),
    ("zero", 0.03),
    ("empty", 0.02),
    ("n/a", 0.02),
    ("dollar_string", 0.05),
    ("range", 0.03),
)
_PRICE_FORM_CUM = tuple(accumulate(share for _, share in _PRICE_FORMS))


def _set_price(rng: random.Random, product: dict) -> None:
    form = rng.choices(_PRICE_FORMS, cum_weights=_PRICE_FORM_CUM)[0][0]
    value = _shelf_price(rng)
    if form == "float":
        product["price"] = value
    elif form == "null":
        product["price"] = None
    elif form == "zero":
        product["price"] = 0
    elif form == "empty":
        product["price"] = ""
    elif form == "n/a":
        product["price"] = "N/A"
    elif form == "dollar_string":
        product["price"] = f"${value * rng.choice((1, 1, 60)):,.2f}"
    elif form == "range":
        product["price"] = f"${value:,.2f} - ${value * rng.uniform(1.3, 2.5):,.2f}"


def _shelf_price(rng: random.Random) -> float:
    dollars = int(10 ** rng.uniform(0.7, 2.5))
    return dollars + rng.choice((0.99, 0.99, 0.95, 0.49, 0.0, rng.randrange(100) / 100))


# --- eBay search pages ---------------------------------------------------------------

_TITLE_EXTRAS = (
    "NEW", "Brand New", "Free Shipping", "US Seller", "Fast Ship", "✅", "Authentic",
    "Sealed", "2026", "Lot of 2", "🔥 HOT", "Same Day Ship", "Gift", "Genuine",
)  # fmt: skip
_SUBTITLES = ("Brand New", "Brand New · Unbranded", "New (Other)", "Brand New · Lot")


@dataclass(frozen=True, slots=True)
class Listing:
    """One real result card; `seller` is None on grid pages, which show no seller."""

    item_id: str
    title: str
    price: float
    price_high: float | None
    seller: Seller | None


@dataclass(frozen=True, slots=True)
class SearchResults:
    """Everything one synthetic search page shows."""

    query: str
    page: int
    total_pages: int
    grid: bool
    listings: tuple[Listing, ...]

    @property
    def has_next(self) -> bool:
        return self.page < self.total_pages

    @property
    def placeholders(self) -> int:
        return PLACEHOLDERS_PER_PAGE if self.listings else 0


@dataclass(frozen=True, slots=True)
class _QueryPlan:
    total_pages: int
    grid: bool
    last_page_cards: int
    base_price: float


def _query_plan(seed: int, query: str) -> _QueryPlan:
    rng = stable_rng(seed, "ebay-query", query)
    total_pages = rng.choices((0, 1, 2, 3, 4), weights=(10, 35, 25, 18, 12))[0]
    grid = rng.random() < GRID_QUERY_SHARE
    last_page_cards = rng.randrange(1, EBAY_PAGE_SIZE + 1)
    base_price = round(10 ** rng.uniform(0.7, 2.6), 2)
    return _QueryPlan(total_pages, grid, last_page_cards, base_price)


def search_results(
    seed: int, query: str, page: int, config: SynthSettings
) -> SearchResults:
    """The listings of one search page, from (seed, normalized query, page) only."""
    key = normalize_query(query)
    plan = _query_plan(seed, key)
    listings = _page_listings(seed, key, plan, page, config)
    if plan.grid:
        # Grid pages show no seller row; the listings still have their sellers,
        # which the Browse API (see `search_listings`) does show.
        listings = tuple(replace(listing, seller=None) for listing in listings)
    return SearchResults(key, page, plan.total_pages, plan.grid, listings)


def search_listings(
    seed: int, query: str, config: SynthSettings
) -> tuple[Listing, ...]:
    """Every listing of a search, page after page, each with its seller: what the
    Browse API pages through by offset. Page N of `search_results` is the slice
    starting at (N - 1) * EBAY_PAGE_SIZE."""
    key = normalize_query(query)
    plan = _query_plan(seed, key)
    return tuple(
        listing
        for page in range(1, plan.total_pages + 1)
        for listing in _page_listings(seed, key, plan, page, config)
    )


def _page_listings(
    seed: int, key: str, plan: _QueryPlan, page: int, config: SynthSettings
) -> tuple[Listing, ...]:
    if page < 1 or page > plan.total_pages:
        return ()
    cards = EBAY_PAGE_SIZE if page < plan.total_pages else plan.last_page_cards
    rng = stable_rng(seed, "ebay-page", key, page)
    population = seller_population(seed, config.seller_population)
    sellers = pick_sellers(rng, population, cards)
    return tuple(_make_listing(rng, key, plan, seller) for seller in sellers)


def _make_listing(
    rng: random.Random, query: str, plan: _QueryPlan, seller: Seller | None
) -> Listing:
    item_id = str(rng.randrange(100_000_000_000, 400_000_000_000))
    price = round(plan.base_price * rng.uniform(0.7, 1.4), 2)
    high = round(price * rng.uniform(1.05, 1.6), 2) if rng.random() < 0.1 else None
    return Listing(item_id, _listing_title(rng, query), price, high, seller)


def _listing_title(rng: random.Random, query: str) -> str:
    """eBay titles stop at 80 characters; sellers pad them with selling words."""
    words = [word.title() if len(word) > 3 else word for word in query.split()]
    words = words[: rng.randrange(2, 9)] if len(words) > 2 else words
    words += rng.sample(_TITLE_EXTRAS, rng.randrange(1, 4))
    title = ""
    for word in words:
        if len(title) + len(word) + 1 > 80:
            break
        title = f"{title} {word}" if title else word
    return title or "Item"


def search_page_truth(
    seed: int, query: str, page: int, config: SynthSettings
) -> SearchPage:
    """What a correct parser extracts from `search_page_html` given the same input."""
    results = search_results(seed, query, page, config)
    sightings = [
        SellerSighting(
            seller=listing.seller.name,
            feedback_percent=listing.seller.feedback_percent,
            feedback_count=listing.seller.feedback_count,
            item_id=listing.item_id,
            title=listing.title,
            price=listing.price,
            currency="USD",
        )
        for listing in results.listings
        if listing.seller is not None
    ]
    return SearchPage(
        sightings=sightings,
        listings=len(results.listings),
        placeholders=results.placeholders,
        has_next=results.has_next,
    )


def search_page_html(seed: int, query: str, page: int, config: SynthSettings) -> str:
    """A synthetic eBay search-results page (s-card layout) for one query and page."""
    results = search_results(seed, query, page, config)
    return render_search_page(results)


# --- markup --------------------------------------------------------------------------


def render_search_page(results: SearchResults) -> str:
    query = html.escape(results.query)
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        f"<title>{query} | eBay</title>",
        _head_filler(),
        '</head><body class="srp"><div id="mainContent"><div class="srp-main">',
        _count_heading(results),
        '<div class="srp-river">',
        '<div id="srp-river-main" class="srp-river-main clearfix">',
        _placeholders(results),
        _results_list(results),
        _pagination(results),
        "</div></div></div></div></body></html>",
    ]
    return "".join(parts)


@lru_cache(maxsize=1)
def _head_filler() -> str:
    """Real pages carry 1 MB of scripts before the first card; a parser must not
    assume the cards are near the top. 40 KB of inert config stands in for it."""
    entries = ",".join(
        f'"k{index}":"{index * 7919 % 100003:x}"' for index in range(2600)
    )
    return f'<script type="application/json" id="srp-config">{{{entries}}}</script>'


def _count_heading(results: SearchResults) -> str:
    query = html.escape(results.query)
    if results.total_pages == 0:
        return (
            '<div class="srp-save-null-search">'
            '<h3 class="srp-save-null-search__heading">'
            f"No exact matches found</h3><p>for {query}</p></div>"
        )
    total = (results.total_pages - 1) * EBAY_PAGE_SIZE + 1
    return (
        '<div class="srp-controls__count"><h1 class="srp-controls__count-heading">'
        f'<span class="BOLD">{total:,}+</span> <span>results for '
        f'<span class="BOLD">{query}</span></span></h1></div>'
    )


def _placeholders(results: SearchResults) -> str:
    card = _placeholder_card(results.grid)
    return "".join(
        f'<div class="s-clipped" aria-hidden="true">{card}</div>'
        for _ in range(results.placeholders)
    )


def _card_open(grid: bool, item_id: str, index: int) -> str:
    orientation = "vertical" if grid else "horizontal"
    element_id = f"item{int(item_id):x}"[:14] if item_id else ""
    return (
        f'<li class="s-card s-card--{orientation}" id="{element_id}" '
        f'data-listingid="{item_id}" data-view="mi:1686|iid:{index}">'
        f'<div class="su-card-container su-card-container--{orientation}">'
    )


def _placeholder_card(grid: bool) -> str:
    fake_url = (
        "https://ebay.com/itm/123456?itmmeta=01SANDBOXPLACEHOLDER&amp;hash=item1e240"
    )
    return "".join(
        [
            _card_open(grid, "", 1),
            _media(fake_url, "Shop on eBay"),
            '<div class="su-card-container__content">',
            _header(fake_url, "Shop on eBay", "Brand New", hidden_suffix=False),
            '<div class="su-card-container__attributes">'
            '<div class="su-card-container__attributes__primary">',
            _attribute_row(_price_spans(20.0, None)),
            _attribute_row(_secondary_text("or Best Offer")),
            "</div></div></div></div></li>",
        ]
    )


def _results_list(results: SearchResults) -> str:
    layout = "srp-grid" if results.grid else "srp-list"
    cards = "".join(
        _listing_card(results, listing, index)
        for index, listing in enumerate(results.listings, start=1)
    )
    return f'<ul class="srp-results {layout} clearfix">{cards}</ul>'


def _listing_card(results: SearchResults, listing: Listing, index: int) -> str:
    url = (
        f"https://www.ebay.com/itm/{listing.item_id}?_skw={quote_plus(results.query)}"
        f"&amp;hash=item{int(listing.item_id):x}&amp;itmmeta=01SANDBOX{index:04d}"
    )
    subtitle = _SUBTITLES[int(listing.item_id) % len(_SUBTITLES)]
    secondary = listing.seller is not None
    modifier = " su-card-container__attributes--has-secondary" if secondary else ""
    parts = [
        _card_open(results.grid, listing.item_id, index),
        _media(url, listing.title),
        '<div class="su-card-container__content">',
        _header(url, listing.title, subtitle, hidden_suffix=True),
        f'<div class="su-card-container__attributes{modifier}">'
        '<div class="su-card-container__attributes__primary">',
        _attribute_row(_price_spans(listing.price, listing.price_high)),
        _attribute_row(_secondary_text("Buy It Now")),
        _attribute_row(_secondary_text("Free delivery")),
        _attribute_row(_secondary_text("Located in United States")),
        "</div>",
        _seller_block(listing.seller) if listing.seller else "",
        "</div>",
        _footer(index),
        "</div></div></li>",
    ]
    return "".join(parts)


def _media(url: str, title: str) -> str:
    alt = html.escape(title)
    return (
        '<div class="su-card-container__media"><div class="su-media-container '
        's-card__media-wrapper"><div class="su-image"><a class="s-card__link '
        f'image-treatment" href="{url}" target="_blank"><img class="s-card__image" '
        f'loading="lazy" src="https://i.ebayimg.com/images/g/SANDBOX/s-l500.webp" '
        f'alt="{alt}"></a></div></div></div>'
    )


def _header(url: str, title: str, subtitle: str, *, hidden_suffix: bool) -> str:
    suffix = (
        f'<span class="clipped">{HIDDEN_TITLE_SUFFIX}</span>' if hidden_suffix else ""
    )
    return (
        '<div class="su-card-container__header"><a class="s-card__link" '
        f'target="_blank" tabindex="-1" href="{url}"><div role="heading" '
        'aria-level="3" class="s-card__title"><span class="su-styled-text primary '
        f'default">{html.escape(title)}</span>{suffix}</div></a>'
        '<div class="s-card__subtitle-row"><div class="s-card__subtitle">'
        f'<span class="su-styled-text secondary default">{subtitle}</span>'
        "</div></div></div>"
    )


def _attribute_row(inner: str) -> str:
    return f'<div class="s-card__attribute-row">{inner}</div>'


def _secondary_text(text: str) -> str:
    return f'<span class="su-styled-text secondary large">{text}</span>'


def _price_spans(price: float, high: float | None) -> str:
    """A range is three `.s-card__price` spans: low, " to ", high."""
    low_class = "su-styled-text primary bold large-1 s-card__price"
    low = f'<span class="{low_class}">${price:,.2f}</span>'
    if high is None:
        return low
    return (
        f'{low}<span class="su-styled-text primary bold default s-card__price"> to '
        f'</span><span class="su-styled-text primary bold large-1 s-card__price">'
        f"${high:,.2f}</span>"
    )


def _seller_block(seller: Seller) -> str:
    row = _top_rated_row(seller) if seller.top_rated else _seller_row(seller)
    return (
        '<div class="su-card-container__attributes__secondary">'
        f"{_attribute_row(row)}</div>"
    )


def _seller_row(seller: Seller) -> str:
    """The usual form: the name (with a trailing space) and the feedback, two spans."""
    return (
        f'<span class="su-styled-text primary large">{html.escape(seller.name)} </span>'
        f'<span class="su-styled-text primary large">{seller.feedback_text}</span>'
    )


def _top_rated_row(seller: Seller) -> str:
    """Top Rated sellers get one span, `name  99.9% positive (5.2K)`, inside tooltip
    markup, so the text of the outer elements also holds the feedback words."""
    return (
        '<div class="s-card__program-badge-container '
        's-card__program-badge-container--sellerOrStoreInfo"><span><span>'
        '<span class="tooltip"><div class="su-program-badge s-card__program-badge '
        'tooltip__host" aria-expanded="false"><span class="su-icon '
        'su-icon--legacy-top-rated-seller" aria-hidden="true"><svg class="icon '
        'icon--48-colored" focusable="false" aria-hidden="true"><use '
        'href="#icon-top-rated-seller-48-colored"></use></svg></span>'
        f'<span class="su-styled-text default">{html.escape(seller.name)}  '
        f"{seller.feedback_text}</span></div>"
        '<span class="tooltip__overlay" role="tooltip"><span class="tooltip__pointer">'
        '</span><span class="tooltip__mask"><span class="tooltip__cell">'
        '<span class="tooltip__content"><div class="s-card__program-badge-tooltip">'
        "<b><span>Top Rated Plus</span></b><br><ul "
        'class="tooltip__list"><li><span>Buyers rate this seller highly</span></li>'
        "<li><span>Returns accepted, money back</span></li><li><span>Quick "
        "dispatch with tracking</span></li></ul></div></span></span></span></span>"
        "</span></span></span></div>"
    )


def _footer(index: int) -> str:
    label = "Sponsored" if index % 7 == 3 else ""
    return (
        '<div class="su-card-container__footer"><div class="s-card__footer">'
        '<div class="s-card__footer--row"><div class="s-card__sep">'
        f'<span aria-hidden="true">{label}</span></div></div></div></div>'
    )


_ARROW = (
    '<svg class="icon icon--16" focusable="false" aria-hidden="true">'
    '<use href="#icon-arrow-{direction}-16"></use></svg>'
)


def _pagination(results: SearchResults) -> str:
    """Shaped like eBay's: a disabled button where there is no previous/next page, a
    link where there is one."""
    if results.total_pages == 0:
        return ""
    items = "".join(
        _page_item(results.query, number, number == results.page)
        for number in range(1, results.total_pages + 1)
    )
    return (
        '<nav role="navigation" class="pagination" aria-labelledby="srp-page-heading">'
        '<span aria-live="polite" role="status"><h2 id="srp-page-heading" '
        f'class="clipped">Results Pagination - Page {results.page}</h2></span>'
        f"{_page_arrow(results, 'previous')}"
        f'<ol class="pagination__items">{items}</ol>'
        f"{_page_arrow(results, 'next')}</nav>"
    )


def _page_item(query: str, number: int, current: bool) -> str:
    marker = ' aria-current="page"' if current else ""
    return (
        f'<li><a href="{_page_url(query, number)}" class="pagination__item"{marker}>'
        f"{number}</a></li>"
    )


def _page_arrow(results: SearchResults, kind: str) -> str:
    target = results.page + (1 if kind == "next" else -1)
    direction = "right" if kind == "next" else "left"
    icon = _ARROW.format(direction=direction)
    label = f'aria-label="Go to {kind} search page"'
    if 1 <= target <= results.total_pages:
        return (
            f'<a href="{_page_url(results.query, target)}" type="{kind}" '
            f'class="pagination__{kind} icon-link" {label}>{icon}</a>'
        )
    return (
        f'<button type="{kind}" class="pagination__{kind} icon-btn" '
        f'aria-disabled="true" {label}>{icon}</button>'
    )


def _page_url(query: str, page: int) -> str:
    return f"https://www.ebay.com/sch/i.html?_nkw={quote_plus(query)}&amp;_pgn={page}"


def blocked_page_html(seed: int, reference: str) -> str:
    """What eBay sends instead of results when its bot check trips (our own wording)."""
    rng = stable_rng(seed, "blocked", reference)
    reference_id = "-".join(
        "".join(rng.choices("0123456789abcdef", k=size)) for size in (8, 4, 4, 4, 12)
    )
    return (
        "<!DOCTYPE html><html><head>"
        f"<title>{BLOCKED_TITLE}</title>"
        '<meta http-equiv="cache-control" content="no-cache"></head>'
        '<body><div class="pgHeading"><h1>One moment: we are checking your browser '
        "before letting you into eBay.</h1><p>You will be taken to the page you asked "
        "for as soon as the check is over.</p>"
        f"<p><b>Reference ID: </b>{reference_id}</p></div>"
        '<form id="challenge-form" method="post" action="/splashui/challenge">'
        '<input type="hidden" name="_pvt" value="sandbox"></form></body></html>'
    )
