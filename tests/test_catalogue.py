"""The bundled categories catalogue: its node ids, and resolving what a user names."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from importlib import resources
from pathlib import Path

import pytest

from collect.catalogue import (
    LIST_HINT,
    Category,
    department_slugs,
    load_catalogue,
    resolve_categories,
    slugify,
)
from collect.errors import ConfigError

# Words a browse-tree name adds to a category's shopping name ("Dog Supplies").
QUALIFIERS = ("products", "supplies", "equipment")


def catalogue_entries() -> list[dict[str, str]]:
    """The packaged JSON entries, with the `tree_name` the Category type leaves out."""
    text = (
        resources.files("collect")
        .joinpath("data/categories.json")
        .read_text(encoding="utf-8")
    )
    return json.loads(text)["categories"]


def words(name: str) -> list[str]:
    """Lower-case, accent-free, singular words; U+FFFD (a broken byte) is kept."""
    folded = unicodedata.normalize("NFKD", name.casefold())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    tokens = re.findall(r"[a-z0-9\ufffd]+", folded.replace("'", ""))
    return [t[:-1] if len(t) > 3 and t.endswith("s") else t for t in tokens]


def same_word(ours: str, tree: str) -> bool:
    """Word equality where the tree's broken character stands for any one letter."""
    pattern = "".join("." if ch == "\ufffd" else re.escape(ch) for ch in tree)
    return re.fullmatch(pattern, ours) is not None


def name_match(name: str, tree_name: str) -> str | None:
    """`exact`, `equivalent` (our words all in the tree's name), or None."""
    ours, theirs = words(name), words(tree_name)
    if len(ours) == len(theirs) and all(map(same_word, ours, theirs)):
        return "exact"
    significant = [w for w in ours if w not in words(" ".join(QUALIFIERS))]
    if significant and all(any(same_word(w, t) for t in theirs) for w in significant):
        return "equivalent"
    return None


@pytest.fixture(scope="module")
def browse_tree(samples: Path) -> dict[str, set[str]]:
    """Node id (as a string) -> every name the 2018 US browse-tree dump gives it."""
    rows = json.loads((samples / "amazon" / "browse-tree-us-2018.json").read_text())
    names: dict[str, set[str]] = defaultdict(set)
    for row in rows["data"]:
        names[str(row["Category ID"])].add(row["Category Name"])
    return names


# --- the catalogue itself ----------------------------------------------------------


def test_every_node_id_is_confirmed_by_the_browse_tree(
    browse_tree: dict[str, set[str]],
) -> None:
    """Each node id is in the dump under its tree_name, and our name fits that."""
    for entry in catalogue_entries():
        tree_names = browse_tree.get(entry["node_id"], set())
        assert entry["tree_name"] in tree_names, entry
        assert name_match(entry["name"], entry["tree_name"]) is not None, entry


@pytest.mark.parametrize(
    ("name", "tree_name", "expected"),
    [
        ("Women's Clothing", "Women's Clothing", "exact"),
        ("Home Décor", "Home D\ufffdcor Products", "equivalent"),
        ("Outdoor Décor", "Outdoor D\ufffdcor", "exact"),
        ("Dogs", "Dog Supplies", "equivalent"),
        (
            "Car Seats & Accessories",
            "Child Safety Car Seats & Accessories",
            "equivalent",
        ),
        ("Beading & Jewelry Making", "Crochet Kits", None),
        ("Exterior Accessories", "Car Washing Applicators", None),
        ("Car Seats & Accessories", "Baby Diapering Products", None),
        ("Supplies", "Dog Supplies", None),
    ],
    ids=[
        "same",
        "broken-char",
        "broken-char-exact",
        "plural",
        "qualifier",
        "crochet",
        "car-wash",
        "diapering",
        "only-qualifier",
    ],
)
def test_name_match_rule(name: str, tree_name: str, expected: str | None) -> None:
    """The matching rule accepts obvious equivalents and rejects the known wrong ids."""
    assert name_match(name, tree_name) == expected


def test_catalogue_includes_the_sandbox_fashion_nodes(
    browse_tree: dict[str, set[str]],
) -> None:
    """1040660 and 1040658, used by the sandbox examples, are in and confirmed."""
    by_node = {entry["node_id"]: entry for entry in catalogue_entries()}
    assert by_node["1040660"]["tree_name"] == "Women's Clothing"
    assert by_node["1040658"]["tree_name"] == "Men's Clothing"
    assert "Women's Clothing" in browse_tree["1040660"]
    assert "Men's Clothing" in browse_tree["1040658"]


@pytest.mark.parametrize(
    ("node_id", "wrong_name"),
    [
        ("262613011", "Beading & Jewelry Making"),
        ("15718391", "Exterior Accessories"),
        ("166764011", "Car Seats & Accessories"),
    ],
    ids=["crochet-kits", "car-washing-applicators", "baby-diapering"],
)
def test_known_wrong_ids_are_not_under_their_wrong_names(
    node_id: str, wrong_name: str
) -> None:
    """The public list's wrong ids never appear under the names it gave them."""
    for category in load_catalogue():
        assert (category.node_id, category.name) != (node_id, wrong_name)
        if category.name == wrong_name:
            assert category.node_id != node_id


def test_ids_and_node_ids_are_unique_and_well_formed() -> None:
    """Ids, node ids and department slugs never collide: resolution is unambiguous."""
    catalogue = load_catalogue()
    ids = [category.id for category in catalogue]
    node_ids = [category.node_id for category in catalogue]

    assert len(set(ids)) == len(ids)
    assert len(set(node_ids)) == len(node_ids)
    assert set(ids).isdisjoint(department_slugs())
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", i) for i in ids)
    assert all(re.fullmatch(r"[1-9]\d{2,11}", n) for n in node_ids)


def test_catalogue_shape() -> None:
    """About fifteen departments of four to six categories, each with a checked note."""
    departments = department_slugs()
    text = (
        resources.files("collect")
        .joinpath("data/categories.json")
        .read_text(encoding="utf-8")
    )

    assert len(departments) == 16
    assert len(load_catalogue()) == 95
    assert all(4 <= len(members) <= 6 for members in departments.values())
    assert "browse-tree-us-2018.json" in json.loads(text)["checked_against"]


def test_load_catalogue_is_cached_but_returns_a_fresh_list() -> None:
    """Callers may change the list they get without changing the next caller's."""
    first = load_catalogue()
    first.clear()
    assert len(load_catalogue()) == 95


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Women's Clothing", "womens-clothing"),
        ("Patio, Lawn & Garden", "patio-lawn-garden"),
        ("Home Décor", "home-decor"),
    ],
    ids=["apostrophe", "punctuation", "accent"],
)
def test_slugify(text: str, slug: str) -> None:
    """Slugs are ASCII words joined by hyphens."""
    assert slugify(text) == slug


# --- resolving names ---------------------------------------------------------------


def node_ids(categories: list[Category]) -> list[str]:
    return [category.node_id for category in categories]


PET_NODES = [
    "2975221011",
    "2975241011",
    "2975312011",
    "2975446011",
    "2975504011",
    "2975520011",
]


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["womens-clothing"], ["1040660"]),
        (["WOMENS-Clothing"], ["1040660"]),
        ([" dogs "], ["2975312011"]),
        (["pet-supplies"], PET_NODES),
        (["Pet Supplies"], PET_NODES),
        (["pet supplies"], PET_NODES),
        (["1040658"], ["1040658"]),
        (["12345678"], ["12345678"]),
        (["dogs", "1040660", "cats"], ["2975312011", "1040660", "2975241011"]),
        (["dogs", "pet-supplies"], ["2975312011", *PET_NODES[:2], *PET_NODES[3:]]),
        (["mens-clothing", "1040658", "MENS-CLOTHING"], ["1040658"]),
    ],
    ids=[
        "id",
        "id-any-case",
        "id-padded",
        "department-slug",
        "department-name",
        "department-any-case",
        "catalogued-node",
        "raw-node",
        "mixed",
        "department-after-member",
        "duplicates",
    ],
)
def test_resolve_node_ids(names: list[str], expected: list[str]) -> None:
    """Names resolve to node ids in the order first named, each node once."""
    assert node_ids(resolve_categories(names)) == expected


def test_catalogued_node_id_resolves_to_the_catalogue_entry() -> None:
    """A raw node id the catalogue knows brings its id, department and name."""
    assert resolve_categories(["1040660"]) == [
        Category(
            "womens-clothing",
            "Clothing, Shoes & Jewelry",
            "Women's Clothing",
            "1040660",
        )
    ]


def test_uncatalogued_node_id_resolves_to_a_bare_category() -> None:
    """An unknown node id is still usable; the catalogue cannot vouch for it."""
    assert resolve_categories(["12345678"]) == [
        Category(id="12345678", department="", name="node 12345678", node_id="12345678")
    ]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["dgos"], "unknown category 'dgos' (did you mean: dogs?)"),
        (
            ["pet-suplies"],
            "unknown category 'pet-suplies' (did you mean: pet-supplies, "
            "craft-supplies, painting-supplies?)",
        ),
        (
            ["Pet Suplies"],
            "unknown category 'Pet Suplies' (did you mean: pet-supplies, "
            "craft-supplies, painting-supplies?)",
        ),
        (
            ["toys"],
            "unknown category 'toys' (did you mean: baby-toddler-toys, "
            "building-toys, toys-games?)",
        ),
        (["xyzzy"], "unknown category 'xyzzy'"),
        (["12"], "unknown category '12'"),
        (["1234567890123"], "unknown category '1234567890123'"),
        (
            ["dogs", "catz", "xyzzy"],
            "unknown categories 'catz' (did you mean: cats?), 'xyzzy'",
        ),
        ([""], "unknown category ''"),
        ([], "no categories named"),
    ],
    ids=[
        "typo-id",
        "typo-department",
        "typo-department-name",
        "word-of-several",
        "no-suggestion",
        "node-too-short",
        "node-too-long",
        "several",
        "blank",
        "empty",
    ],
)
def test_resolve_rejects_unknown_names(names: list[str], message: str) -> None:
    """Unknown names fail with every one of them named and the listing hint."""
    with pytest.raises(ConfigError) as caught:
        resolve_categories(names)
    assert str(caught.value) == message
    assert caught.value.hint == LIST_HINT == "run `collect categories` to list them"


def test_resolve_accepts_a_generator() -> None:
    """Any iterable works, including one that can be read only once."""
    assert node_ids(resolve_categories(n for n in ["cats"])) == ["2975241011"]


def test_department_slugs_lists_members_in_catalogue_order() -> None:
    """Every category appears under exactly one department slug, in file order."""
    departments = department_slugs()
    flattened = [c for members in departments.values() for c in members]

    assert flattened == load_catalogue()
    assert list(departments)[:3] == ["arts-crafts-sewing", "automotive", "baby"]
    assert node_ids(departments["pet-supplies"]) == PET_NODES
