"""The plain values that pass between parsers, workers, the writer and the store."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Product:
    """One Amazon best-seller; `node_id` is the category it was listed in."""

    asin: str
    title: str
    price: float | None
    currency: str | None
    position: int
    node_id: str = ""


@dataclass(frozen=True, slots=True)
class RejectedProduct:
    """A best-seller that cannot be searched, with the reason (e.g. no usable price)."""

    asin: str
    title: str
    raw_price: object
    reason: str
    position: int = 0


@dataclass(frozen=True, slots=True)
class BestSellersPage:
    """What one best-seller page yields: searchable products and rejected ones."""

    products: list[Product]
    rejected: list[RejectedProduct] = field(default_factory=list)
    category_name: str | None = None


@dataclass(frozen=True, slots=True)
class SellerSighting:
    """One listing card that names its seller."""

    seller: str
    feedback_percent: float | None
    feedback_count: int | None
    item_id: str | None = None
    title: str | None = None
    price: float | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class SearchPage:
    """What one eBay search page yields.

    `listings` counts real item cards (placeholders excluded); `sightings` holds one
    entry per card that names a seller, so a seller may appear several times.
    """

    sightings: list[SellerSighting]
    listings: int
    placeholders: int = 0
    has_next: bool = False
    skipped: int = 0

    @property
    def unique_sellers(self) -> int:
        return len({s.seller.casefold() for s in self.sightings})
