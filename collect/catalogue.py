"""The bundled catalogue of Amazon US Best Sellers categories, and name resolution.

The catalogue lives in `collect/data/categories.json`; every node id in it was
checked against a dump of the US browse tree (see its `checked_against` note). A
user names categories on the command line in three ways, freely mixed:

    womens-clothing      a catalogue id
    "Pet Supplies"       a department by name or slug (pet-supplies): all its members
    1040660              a raw browse node id, catalogued or not

`resolve_categories` turns those names into `Category` values, one per node id.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

from collect.errors import ConfigError

LIST_HINT = "run `collect categories` to list them"

# Amazon node ids seen in the wild run from 6 to 11 digits; the bounds leave room.
_NODE_ID = re.compile(r"\d{3,12}")


@dataclass(frozen=True, slots=True)
class Category:
    """One best-seller category: `id` is the catalogue slug, `node_id` Amazon's id."""

    id: str
    department: str
    name: str
    node_id: str


def load_catalogue() -> list[Category]:
    """Every catalogued category, in the file's order (departments grouped)."""
    return list(_catalogue())


def department_slugs() -> dict[str, list[Category]]:
    """Each department's slug (`pet-supplies`) mapped to its categories, in order."""
    departments: dict[str, list[Category]] = {}
    for category in _catalogue():
        departments.setdefault(slugify(category.department), []).append(category)
    return departments


def resolve_categories(names: Iterable[str]) -> list[Category]:
    """Turn what the user named into categories, one per node id, first seen first.

    Raises ConfigError when nothing is named or when a name is neither a catalogue
    id, a department nor a node id; the message lists every unknown name with the
    closest known ones.
    """
    resolved: dict[str, Category] = {}
    unknown: list[str] = []
    named_any = False

    for name in names:
        named_any = True
        matches = _resolve_one(name.strip())
        if matches is None:
            unknown.append(name)
            continue
        for category in matches:
            resolved.setdefault(category.node_id, category)

    if not named_any:
        raise ConfigError("no categories named", hint=LIST_HINT)
    if unknown:
        raise ConfigError(_unknown_message(unknown), hint=LIST_HINT)
    return list(resolved.values())


def slugify(text: str) -> str:
    """`Women's Clothing` -> `womens-clothing`: ASCII, lower case, words joined by -."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    without_apostrophes = ascii_text.replace("'", "")
    return re.sub(r"[^a-z0-9]+", "-", without_apostrophes.lower()).strip("-")


def _resolve_one(name: str) -> list[Category] | None:
    """The categories one name stands for, or None when it means nothing known."""
    key = name.casefold()
    by_id = _by_id()
    if key in by_id:
        return [by_id[key]]

    departments = _by_department()
    if key in departments:
        return departments[key]

    if _NODE_ID.fullmatch(name):
        return [_by_node_id().get(name) or _uncatalogued(name)]
    return None


def _uncatalogued(node_id: str) -> Category:
    return Category(id=node_id, department="", name=f"node {node_id}", node_id=node_id)


def _unknown_message(unknown: list[str]) -> str:
    """`unknown category 'toyz' (did you mean: toys-games?)`, one clause per name."""
    clauses = []
    for name in unknown:
        close = _suggestions(name)
        suggestion = f" (did you mean: {', '.join(close)}?)" if close else ""
        clauses.append(f"{name!r}{suggestion}")
    noun = "category" if len(unknown) == 1 else "categories"
    return f"unknown {noun} " + ", ".join(clauses)


def _suggestions(name: str, limit: int = 5) -> list[str]:
    """Ids and slugs spelled like `name`, then those holding it as a word (`toys`)."""
    key = slugify(name)
    known = _known_names()
    close = difflib.get_close_matches(key, known, n=3)
    holding = [candidate for candidate in known if key in candidate.split("-")]
    return list(dict.fromkeys(close + holding))[:limit]


@functools.cache
def _catalogue() -> tuple[Category, ...]:
    """The packaged JSON, read once per process."""
    text = (
        resources.files("collect")
        .joinpath("data/categories.json")
        .read_text(encoding="utf-8")
    )
    entries = json.loads(text)["categories"]
    return tuple(
        Category(
            id=entry["id"],
            department=entry["department"],
            name=entry["name"],
            node_id=entry["node_id"],
        )
        for entry in entries
    )


@functools.cache
def _by_id() -> dict[str, Category]:
    return {category.id.casefold(): category for category in _catalogue()}


@functools.cache
def _by_node_id() -> dict[str, Category]:
    return {category.node_id: category for category in _catalogue()}


@functools.cache
def _by_department() -> dict[str, list[Category]]:
    """Departments under both their slug and their case-folded display name."""
    lookup: dict[str, list[Category]] = {}
    for slug, categories in department_slugs().items():
        lookup[slug] = categories
        lookup[categories[0].department.casefold()] = categories
    return lookup


@functools.cache
def _known_names() -> tuple[str, ...]:
    """What a close-match suggestion may offer: catalogue ids and department slugs."""
    return tuple(_by_id()) + tuple(department_slugs())
