"""eBay search-page parser: the recorded pages, synthetic cards and hostile input."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from collect.errors import Blocked, ParseError
from collect.models import SearchPage
from collect.parsers.ebay_html import looks_blocked, parse_search_page

# file: (cards, placeholders, listings, with seller, unique sellers), from the
# samples README (counted independently of this parser).
SAMPLE_FIGURES = {
    "scard-pokemon-us.html": (62, 2, 60, 60, 49),
    "scard-pokemon-us-2.html": (62, 2, 60, 60, 42),
    "scard-top-rated-comics-us.html": (62, 2, 60, 60, 45),
    "scard-grid-no-sellers-idr.html": (62, 2, 60, 0, 0),
    "sitem-shirts-us-2025.html": (62, 2, 60, 0, 0),
}

# The 8 "Top Rated" cards whose name and feedback share one span.
TOP_RATED = {
    "comebackcomx": (100.0, 5_200),
    "cosmic_kingdom_comics": (100.0, 14_300),
    "mycomicshop": (99.9, 573_300),
    "omnomax_traders_llc": (99.9, 24_400),
    "hadleycomics": (99.8, 1_600),
    "randomstackscomics": (99.9, 28_100),
    "rachiday8": (100.0, 22_600),
    "jna11500-8": (100.0, 1_000),
}


def _html(samples: Path, name: str) -> bytes:
    return (samples / "ebay-search-html" / name).read_bytes()


def _largest(page: SearchPage) -> tuple[str, int | None]:
    top = max(page.sightings, key=lambda s: s.feedback_count or 0)
    return top.seller, top.feedback_count


# -- synthetic pages --------------------------------------------------------------


def usual_row(name: str, feedback: str) -> str:
    return (
        f'<span class="su-styled-text primary large">{name} </span>'
        f'<span class="su-styled-text primary large">{feedback}</span>'
    )


def top_rated_row(name: str, feedback: str) -> str:
    return (
        '<div class="s-card__program-badge-container"><span><span>'
        '<span class="tooltip"><div class="su-program-badge tooltip__host">'
        '<span class="su-icon" aria-hidden="true"><svg></svg></span>'
        f'<span class="su-styled-text default">{name}  {feedback}</span></div>'
        '<span class="tooltip__overlay" role="tooltip"><span class="tooltip__content">'
        "<b><span>Top Rated Plus</span></b><ul><li><span>Sellers with highest buyer "
        "ratings</span></li></ul></span></span></span></span></span></div>"
    )


def scard(
    seller_row: str = "",
    *,
    title: str = "Widget",
    item_id: str = "111122223333",
    prices: tuple[str, ...] = ("$5.59",),
) -> str:
    price_spans = "".join(f'<span class="s-card__price">{p}</span>' for p in prices)
    return (
        '<li class="s-card s-card--horizontal"><div class="su-card-container__header">'
        f'<a class="s-card__link" href="https://www.ebay.com/itm/{item_id}?_skw=x">'
        f'<div role="heading" class="s-card__title"><span>{title}</span>'
        '<span class="clipped">Opens in a new window or tab</span></div></a></div>'
        '<div class="su-card-container__attributes">'
        '<div class="su-card-container__attributes__primary">'
        f'<div class="s-card__attribute-row">{price_spans}</div></div>'
        '<div class="su-card-container__attributes__secondary">'
        f'<div class="s-card__attribute-row">{seller_row}</div></div></div></li>'
    )


def sitem(seller_text: str = "", *, price: str = "$10.44 to $15.96") -> str:
    seller = f'<span class="s-item__seller-info-text">{seller_text}</span>'
    return (
        '<li class="s-item"><a class="s-item__link" '
        'href="https://www.ebay.com/itm/Some-Title/276885667405?hash=x">'
        '<div class="s-item__title"><span role="heading">'
        '<span class="LIGHT_HIGHLIGHT">New Listing</span>Shirt</span></div>'
        '<span class="clipped">Opens in a new window or tab</span></a>'
        f'<span class="s-item__price">{price}</span>'
        f"{seller if seller_text else ''}</li>"
    )


NEXT_ENABLED = (
    '<a href="https://www.ebay.com/sch/i.html?_pgn=2" type="next" '
    'class="pagination__next icon-link">next</a>'
)
NEXT_DISABLED = (
    '<button type="next" class="pagination__next icon-btn" aria-disabled="true">'
    "next</button>"
)


def page(*cards: str, pagination: str = NEXT_ENABLED) -> bytes:
    return (
        "<!DOCTYPE html><html><head><title>x for sale | eBay</title></head><body>"
        '<ul class="srp-results srp-list clearfix">'
        f'{"".join(cards)}</ul><nav class="pagination">{pagination}</nav>'
        "</body></html>"
    ).encode()


def only_sighting(html: bytes) -> tuple[str, float | None, int | None]:
    (sighting,) = parse_search_page(html).sightings
    return sighting.seller, sighting.feedback_percent, sighting.feedback_count


# -- the recorded pages -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "figures"), SAMPLE_FIGURES.items(), ids=list(SAMPLE_FIGURES)
)
def test_sample_figures(samples: Path, name: str, figures: tuple[int, ...]) -> None:
    """Every recorded page yields exactly the README's card and seller counts."""
    result = parse_search_page(_html(samples, name))
    cards = result.listings + result.placeholders
    assert (
        cards,
        result.placeholders,
        result.listings,
        len(result.sightings),
        result.unique_sellers,
    ) == figures


@pytest.mark.parametrize(
    ("name", "seller", "count"),
    [
        ("scard-pokemon-us.html", "legendsonmain", 14_500),
        ("scard-pokemon-us-2.html", "probstein123", 1_600_000),
        ("scard-top-rated-comics-us.html", "mycomicshop", 573_300),
    ],
    ids=["pokemon-14.5K", "pokemon-2-1.6M", "comics-573.3K"],
)
def test_largest_feedback_count(
    samples: Path, name: str, seller: str, count: int
) -> None:
    """K and M suffixes expand exactly; the named seller has the largest count."""
    assert _largest(parse_search_page(_html(samples, name))) == (seller, count)


def test_probstein123_seen_twelve_times(samples: Path) -> None:
    """One seller's repeated cards are all kept, with `99.6% positive (1.6M)`."""
    result = parse_search_page(_html(samples, "scard-pokemon-us-2.html"))
    theirs = [s for s in result.sightings if s.seller == "probstein123"]
    assert len(theirs) == 12
    assert {(s.feedback_percent, s.feedback_count) for s in theirs} == {
        (99.6, 1_600_000)
    }


def test_top_rated_single_span_cards(samples: Path) -> None:
    """The 8 Top Rated cards give the innermost span's name, not tooltip text."""
    result = parse_search_page(_html(samples, "scard-top-rated-comics-us.html"))
    found = {
        s.seller: (s.feedback_percent, s.feedback_count)
        for s in result.sightings
        if s.seller in TOP_RATED
    }
    assert found == TOP_RATED
    assert not [s for s in result.sightings if "Top Rated" in s.seller]


@pytest.mark.parametrize(
    ("name", "seller", "percent", "count"),
    [
        ("scard-pokemon-us.html", "mic_196915", 77.8, 5),
        ("scard-pokemon-us-2.html", "hat1386", 0.0, 1),
        ("scard-pokemon-us.html", "kearah_54", 0.0, 0),
        ("scard-top-rated-comics-us.html", "taking_offers", 99.8, 482),
    ],
    ids=["77.8%-(5)", "0%-(1)", "0%-(0)", "99.8%-(482)"],
)
def test_feedback_forms_in_samples(
    samples: Path, name: str, seller: str, percent: float, count: int
) -> None:
    """Low and fractional percentages and small counts read as written."""
    result = parse_search_page(_html(samples, name))
    assert (percent, count) in {
        (s.feedback_percent, s.feedback_count)
        for s in result.sightings
        if s.seller == seller
    }


@pytest.mark.parametrize(
    "name",
    [n for n, figures in SAMPLE_FIGURES.items() if figures[3]],
)
def test_sample_sightings_are_complete(samples: Path, name: str) -> None:
    """Each sighting carries a numeric item id, a clean title and a USD price."""
    for sighting in parse_search_page(_html(samples, name)).sightings:
        assert sighting.item_id and sighting.item_id.isdigit()
        assert sighting.title and "Opens in a new window" not in sighting.title
        assert sighting.price is not None and sighting.price > 0
        assert sighting.currency == "USD"


def test_sample_price_range_gives_low_end(samples: Path) -> None:
    """An s-card range split over three spans ("$7.99", " to ", "$9.89") gives 7.99."""
    result = parse_search_page(_html(samples, "scard-top-rated-comics-us.html"))
    prices = Counter(s.price for s in result.sightings)
    assert prices[7.99] >= 1
    assert prices[9.89] == 0


def test_sample_usernames_with_punctuation(samples: Path) -> None:
    """Names with `.`, `-` and `_` survive whole."""
    result = parse_search_page(_html(samples, "scard-pokemon-us.html"))
    names = {s.seller for s in result.sightings}
    assert {"g3o.retro.collect", "a-z-of-your-mum", "p_o_k_e_m_a_s_o_n"} <= names


@pytest.mark.parametrize("name", list(SAMPLE_FIGURES))
def test_sample_has_next_page(samples: Path, name: str) -> None:
    """Every recorded page is page 1 of many: an enabled next link."""
    assert parse_search_page(_html(samples, name)).has_next is True


def test_blocked_sample_raises_blocked(samples: Path) -> None:
    """The bot check is reported as blocked, never as a page with 0 sellers."""
    html = _html(samples, "blocked-challenge.html")
    assert looks_blocked(html) is True
    with pytest.raises(Blocked):
        parse_search_page(html)


@pytest.mark.parametrize("name", list(SAMPLE_FIGURES))
def test_results_pages_do_not_look_blocked(samples: Path, name: str) -> None:
    """A real results page is never taken for a bot check."""
    assert looks_blocked(_html(samples, name)) is False


@pytest.mark.parametrize("name", list(SAMPLE_FIGURES))
def test_parse_is_fast(samples: Path, name: str) -> None:
    """A 1-3 MB page parses in far less than an API round trip (measured ~20 ms)."""
    html = _html(samples, name)
    started = time.perf_counter()
    parse_search_page(html)
    assert time.perf_counter() - started < 0.5


def test_str_input_matches_bytes_input(samples: Path) -> None:
    """A page handed over as text parses the same as its bytes."""
    html = _html(samples, "scard-pokemon-us.html")
    assert parse_search_page(html.decode()) == parse_search_page(html)


# -- synthetic cards --------------------------------------------------------------


@pytest.mark.parametrize(
    ("feedback", "percent", "count"),
    [
        ("0% positive (5)", 0.0, 5),
        ("77.8% positive (810)", 77.8, 810),
        ("100% positive (3.3K)", 100.0, 3_300),
        ("99.5% positive (14.5K)", 99.5, 14_500),
        ("99.6% positive (1.6M)", 99.6, 1_600_000),
        ("98% positive (4K)", 98.0, 4_000),
        ("99.1% positive (12,345)", 99.1, 12_345),
    ],
    ids=["0%", "(810)", "(3.3K)", "(14.5K)", "(1.6M)", "(4K)", "thousands-comma"],
)
@pytest.mark.parametrize("row", [usual_row, top_rated_row], ids=["usual", "top-rated"])
def test_feedback_forms(
    row: Callable[[str, str], str], feedback: str, percent: float, count: int
) -> None:
    """Both row forms read every percentage and count form exactly."""
    html = page(scard(row("seller1", feedback)))
    assert only_sighting(html) == ("seller1", percent, count)


@pytest.mark.parametrize(
    "name", ["g3o.retro.collect", "a-b-c", "snake_case_1", "m********e", "x"]
)
def test_username_characters(name: str) -> None:
    """Usernames keep `.`, `-`, `_` and the `*` of masked names."""
    assert only_sighting(page(scard(usual_row(name, "100% positive (2)"))))[0] == name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sel\u200bler\u200d", "seller"),
        ("\ufeffseller\u2060", "seller"),
        ("  seller\n\t", "seller"),
        ("sel\x07ler", "seller"),
        ("<b>sel</b>ler", "seller"),
    ],
    ids=["zero-width", "bom-word-joiner", "whitespace", "control", "markup"],
)
def test_seller_name_is_clean_text(raw: str, expected: str) -> None:
    """Invisible characters and tags never become part of a name."""
    html = page(scard(usual_row(raw, "100% positive (2)")))
    assert only_sighting(html)[0] == expected


@pytest.mark.parametrize(
    "raw",
    [
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "two words",
        "a" * 65,
        "name@example.com",
        "",
    ],
    ids=["escaped-script", "space", "too-long", "at-sign", "empty"],
)
def test_text_that_is_not_a_username_is_refused(raw: str) -> None:
    """Text eBay would never allow as a username gives no sighting."""
    result = parse_search_page(page(scard(usual_row(raw, "100% positive (2)"))))
    assert (result.listings, result.sightings) == (1, [])


@pytest.mark.parametrize(
    "card",
    [
        scard(title="bob 100% positive (5) rare card"),
        sitem().replace("Shirt", "<span>bob 100% positive (5) rare</span>"),
    ],
    ids=["s-card", "s-item"],
)
def test_feedback_words_in_title_are_not_a_seller_row(card: str) -> None:
    """A title that quotes feedback text does not invent a seller."""
    result = parse_search_page(page(card))
    assert (result.listings, result.sightings) == (1, [])


def test_sitem_newer_seller_text() -> None:
    """An s-item row written the s-card way, "name 99.5% positive (1.2K)"."""
    html = page(sitem("new.seller 99.5% positive (1.2K)"))
    assert only_sighting(html) == ("new.seller", 99.5, 1_200)


def test_card_fields() -> None:
    """Item id from the /itm/ link, title without the hidden suffix, low price."""
    html = page(
        scard(
            usual_row("seller1", "99.5% positive (3.3K)"),
            title="Pokémon 🎴 card",
            item_id="307063707616",
            prices=("$7.99", " to ", "$9.89"),
        )
    )
    (sighting,) = parse_search_page(html).sightings
    assert (sighting.item_id, sighting.title, sighting.price, sighting.currency) == (
        "307063707616",
        "Pokémon 🎴 card",
        7.99,
        "USD",
    )


@pytest.mark.parametrize(
    ("shown", "price", "currency"),
    [
        ("IDR1,196,065.67", 1_196_065.67, "IDR"),
        ("£12.50", 12.5, "GBP"),
        ("C $1,299.00", 1_299.0, "CAD"),
        ("EUR 12,99", 12.99, "EUR"),
    ],
    ids=["IDR", "GBP", "CAD", "EUR-decimal-comma"],
)
def test_card_price_currencies(shown: str, price: float, currency: str) -> None:
    """Non-USD prices keep their currency; thousands commas are not decimals."""
    html = page(scard(usual_row("s", "100% positive (1)"), prices=(shown,)))
    (sighting,) = parse_search_page(html).sightings
    assert (sighting.price, sighting.currency) == (price, currency)


@pytest.mark.parametrize(
    ("card", "placeholders", "listings"),
    [
        (scard(title="Shop on eBay", item_id="999999999"), 1, 0),
        (scard(title="Widget", item_id="123456"), 1, 0),
        (scard(title="Shop on eBay shelf", item_id="999999999"), 0, 1),
    ],
    ids=["placeholder-title", "placeholder-item-id", "real-card"],
)
def test_placeholders(card: str, placeholders: int, listings: int) -> None:
    """ "Shop on eBay" filler cards are counted apart from real listings."""
    result = parse_search_page(page(card))
    assert (result.placeholders, result.listings) == (placeholders, listings)


def test_placeholder_with_seller_row_is_not_a_sighting() -> None:
    """A filler card never yields a seller, even if it carried a row."""
    html = page(scard(usual_row("ghost", "100% positive (9)"), title="Shop on eBay"))
    assert parse_search_page(html).sightings == []


def test_sitem_seller_info_and_range() -> None:
    """Older s-item rows "name (12,345) 99.5%"; the range's low end; no badge."""
    (sighting,) = parse_search_page(page(sitem("old.seller (12,345) 99.5%"))).sightings
    assert (
        sighting.seller,
        sighting.feedback_percent,
        sighting.feedback_count,
        sighting.item_id,
        sighting.title,
        sighting.price,
    ) == ("old.seller", 99.5, 12_345, "276885667405", "Shirt", 10.44)


def test_sitem_without_seller_row() -> None:
    """s-item cards without a seller row count as listings with no sighting."""
    result = parse_search_page(page(sitem(), sitem()))
    assert (result.listings, len(result.sightings)) == (2, 0)


@pytest.mark.parametrize(
    ("pagination", "expected"),
    [
        (NEXT_ENABLED, True),
        (NEXT_DISABLED, False),
        (NEXT_ENABLED.replace('class="', 'aria-disabled="true" class="'), False),
        ('<a class="pagination__next" href="">next</a>', False),
        ("", False),
    ],
    ids=["enabled-link", "disabled-button", "aria-disabled-link", "no-href", "none"],
)
def test_has_next(pagination: str, expected: bool) -> None:
    """Only an enabled link to another page counts as a next page."""
    assert parse_search_page(page(pagination=pagination)).has_next is expected


def test_zero_results_page_is_empty_not_an_error() -> None:
    """A results page with no cards is a valid answer with nothing in it."""
    assert parse_search_page(page(pagination="")) == SearchPage([], 0, 0, False, 0)


# -- hostile input ----------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   \n",
        b'{"results": []}',
        b"<html><body><p>Hello</p></body></html>",
        b"\xff\xfe\xfa\x00\x80garbage",
        b"\x00" * 1000,
        b"<li class='s-car",
        "abc\ud800def",
        '<div title="' + "x" * 2_000_000 + '">',
    ],
    ids=[
        "empty",
        "whitespace",
        "json",
        "random-html",
        "invalid-utf8",
        "nul-bytes",
        "truncated-tag",
        "lone-surrogate",
        "huge-attribute",
    ],
)
def test_not_a_results_page_raises_parse_error(data: bytes | str) -> None:
    """Anything that is not a results page is a ParseError at seller_extraction."""
    with pytest.raises(ParseError) as caught:
        parse_search_page(data)
    assert caught.value.error_stage == "seller_extraction"


def test_non_text_input_raises_parse_error() -> None:
    """A caller passing the wrong type gets a ParseError, not a TypeError."""
    with pytest.raises(ParseError):
        parse_search_page(None)  # type: ignore[arg-type]


def test_blocked_phrase_in_a_results_page_is_not_blocked() -> None:
    """A listing titled "Pardon Our Interruption" is a result, not a bot check."""
    html = page(
        scard(usual_row("s", "100% positive (1)"), title="Pardon Our Interruption")
    )
    assert len(parse_search_page(html).sightings) == 1


def test_invalid_utf8_inside_a_card() -> None:
    """Broken bytes in a name are replaced; the rest of the card still parses."""
    html = page(scard(usual_row("seller", "100% positive (2)"))).replace(
        b"seller", b"sel\xffler"
    )
    assert only_sighting(html) == ("sel\ufffdler", 100.0, 2)


@pytest.mark.parametrize("fraction", [0.1, 0.45, 0.5, 0.6, 0.9, 0.999])
def test_truncated_sample_never_crashes(samples: Path, fraction: float) -> None:
    """A page cut anywhere gives a SearchPage or a ParseError, nothing else."""
    html = _html(samples, "scard-top-rated-comics-us.html")
    cut = html[: int(len(html) * fraction)]
    try:
        result = parse_search_page(cut)
    except ParseError:
        return
    assert result.listings <= 60
    assert all(s.seller for s in result.sightings)


@pytest.mark.parametrize(
    ("row", "seller"),
    [
        ("<span>" * 2000 + "deep.one 100% positive (5)" + "</span>" * 2000, "deep.one"),
        ("<span>" * 200 + "y" * 100_000 + " 100% positive (5)" + "</span>" * 200, None),
        (usual_row("s", "100% positive (1) " + "x" * 2_000_000), None),
    ],
    ids=["2000-nested-spans", "nested-huge-text", "2MB-row"],
)
def test_hostile_markup_is_quick(row: str, seller: str | None) -> None:
    """Deep nesting and huge text neither crash the parser nor stall it."""
    started = time.perf_counter()
    result = parse_search_page(page(scard(row)))
    assert time.perf_counter() - started < 0.5
    assert [s.seller for s in result.sightings] == ([seller] if seller else [])
