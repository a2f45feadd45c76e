"""Recorded answers for the sandbox's replay mode.

Layout of a replay folder:

    DIR/amazon/<node_id>.json     page 1 of a best-seller list
    DIR/amazon/<node_id>-pN.json  page N (N > 1)
    DIR/ebay/*.html               recorded eBay search pages
    DIR/browse/*.json             recorded eBay Browse API search answers

An Amazon file holds either a whole Oxylabs answer (served byte for byte) or only the
parsed content (the server wraps it). eBay pages are chosen from (query, page), Browse
answers from (query, offset), with a stable hash over the sorted file list, so the same
search always replays the same page. Browse answers are served byte for byte.
A request with no recording returns None; the server answers it with a faulted job.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import orjson

# Node ids become file names: anything but plain characters could climb out of DIR.
_SAFE_NODE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class RecordedBestSellers:
    """A recorded Amazon answer: a full envelope (`raw`) or only its content."""

    raw: bytes | None = None
    content: object = None


class ReplayStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def bestsellers(self, node_id: str, page: int) -> RecordedBestSellers | None:
        if not _SAFE_NODE_ID.match(node_id):
            return None
        name = f"{node_id}.json" if page == 1 else f"{node_id}-p{page}.json"
        path = self.root / "amazon" / name
        if not path.is_file():
            return None
        raw = path.read_bytes()
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            # A recording of a broken answer is replayed as it was received.
            return RecordedBestSellers(raw=raw)
        if _is_envelope(document):
            return RecordedBestSellers(raw=raw)
        return RecordedBestSellers(content=document)

    def search_page(self, query: str, page: int) -> str | None:
        pages = _files(self.root / "ebay", "*.html")
        if not pages:
            return None
        chosen = pages[_pick(f"{query}\n{page}", len(pages))]
        return _read_page(chosen, chosen.stat().st_mtime_ns)

    def browse_answer(self, query: str, offset: int) -> bytes | None:
        answers = _files(self.root / "browse", "*.json")
        if not answers:
            return None
        chosen = answers[_pick(f"{query}\n{offset}", len(answers))]
        return _read_answer(chosen, chosen.stat().st_mtime_ns)


def _pick(key: str, count: int) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % count


def _is_envelope(document: object) -> bool:
    if not isinstance(document, dict):
        return False
    results = document.get("results")
    if not isinstance(results, list) or not results:
        return False
    return isinstance(results[0], dict) and "content" in results[0]


@lru_cache(maxsize=16)
def _read_page(path: Path, mtime_ns: int) -> str:
    # Recorded pages are 1-3 MB; caching by (path, mtime) keeps replay fast while
    # still noticing a file that was replaced.
    return path.read_text(encoding="utf-8", errors="replace")


@lru_cache(maxsize=16)
def _read_answer(path: Path, mtime_ns: int) -> bytes:
    return path.read_bytes()


def _files(folder: Path, pattern: str) -> list[Path]:
    """Recorded files only: a folder or a dangling link named *.html is skipped."""
    return sorted(path for path in folder.glob(pattern) if path.is_file())
