"""The metrics file: counts equal to the stream's, strict text format, atomic writes."""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from stream_events import T0, event

from collect.events import ERROR_TYPES
from collect.metrics import (
    MetricsCounters,
    MetricsFile,
    MetricsSnapshot,
    escape_label_value,
    read_last_success,
    render_metrics,
    replace_atomically,
    write_metrics,
)

BROWSE = "https://api.ebay.com/buy/browse/v1/item_summary/search?q=x"

# -- a strict reader of the text format (exposition format 0.0.4) ----------------

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
_SAMPLE = re.compile(
    rf"(?P<name>{_NAME})(?:\{{(?P<labels>{_LABEL}(?:,{_LABEL})*)\}})? "
    r"(?P<value>[-+]?(?:[0-9]+(?:\.[0-9]*)?(?:e[-+]?[0-9]+)?|Inf|NaN))"
)
_META = re.compile(rf"# (?P<kind>HELP|TYPE) (?P<name>{_NAME}) (?P<text>.*)")
_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_exposition(text: str) -> tuple[Samples, dict[str, str]]:
    """Samples by (name, labels) and types by family; any deviation fails the test."""
    assert text.endswith("\n"), "the last line must end with a newline"
    samples: Samples = {}
    types: dict[str, str] = {}
    for line in text[:-1].split("\n"):
        meta = _META.fullmatch(line)
        if meta:
            if meta["kind"] == "TYPE":
                assert meta["name"] not in types, f"second TYPE for {meta['name']}"
                assert meta["text"] in ("counter", "gauge"), line
                types[meta["name"]] = meta["text"]
            continue
        sample = _SAMPLE.fullmatch(line)
        assert sample, f"not a sample line: {line!r}"
        assert sample["name"] in types, f"sample before its TYPE: {line!r}"
        key = (sample["name"], _labels(sample["labels"] or ""))
        assert key not in samples, f"duplicate sample: {line!r}"
        samples[key] = float(sample["value"])
    return samples, types


def _labels(text: str) -> frozenset[tuple[str, str]]:
    return frozenset(
        (name, re.sub(r"\\[\\\"n]", lambda m: _UNESCAPE[m[0]], value))
        for name, value in _PAIR.findall(text)
    )


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[name, frozenset(labels.items())]


# -- a synthetic stream -----------------------------------------------------------


def synthetic_stream() -> list[dict[str, Any]]:
    """Two providers, every outcome, a rejected product, a lost worker, sellers."""
    url = "https://www.ebay.com/sch/i.html?_nkw=x"
    return [
        event(0, 1, "fetching", phase="amazon", url="https://www.amazon.com/b"),
        event(1, 1, "found", phase="amazon", items_count=30),
        event(
            1,
            1,
            "error",
            phase="amazon",
            error_type="parse_error",
            error_stage="price_parsing",
        ),
        event(2, 1, "fetching", url=url),
        event(
            3, 1, "rate_limited", url=url, error_type="rate_limit", error_stage="api"
        ),
        event(4, 1, "fetching", url=url),
        event(5, 1, "error", url=url, error_type="timeout", error_stage="api"),
        event(6, 1, "fetching", url=url),
        event(7, 1, "found", url=url, items_count=12),
        event(8, 2, "fetching", url=BROWSE),
        event(9, 2, "found", url=BROWSE, items_count=4),
        event(10, 2, "fetching", url=BROWSE),
        event(11, 2, "error", url=BROWSE, error_type="http_error", http_status=503),
        event(12, 2, "fetching", url=BROWSE),
        event(13, 0, "inserted", items_count=7, source_worker_id=1),
        event(13, 0, "updated", items_count=3, source_worker_id=1),
        event(14, 0, "inserted", items_count=2, source_worker_id=2),
        event(15, 0, "deduped", items_count=9, source_worker_id=2),
        event(16, 0, "error", error_type="worker_lost", error_stage="api"),
        event(17, 0, "complete", operation_type="run"),
    ]


def expected_from(stream: list[dict[str, Any]]) -> dict[str, Any]:
    """The counts computed the plain way, by reading the stream with jq's eyes."""

    def provider(e: dict[str, Any]) -> str:
        return "browse" if "/buy/browse/" in e.get("url", "") else "oxylabs"

    workers = [e for e in stream if e["worker_id"] != 0]
    requests = Counter(
        (provider(e), e["action"])
        for e in workers
        if e["action"] in ("found", "error", "rate_limited")
        and e.get("error_stage") != "price_parsing"
    )
    return {
        "sent": Counter(provider(e) for e in workers if e["action"] == "fetching"),
        "requests": requests,
        "errors": Counter(
            e["error_type"] for e in stream if e["action"] in ("error", "rate_limited")
        ),
        "new": sum(e["items_count"] for e in stream if e["action"] == "inserted"),
        "updated": sum(e["items_count"] for e in stream if e["action"] == "updated"),
        "last": max(
            datetime.fromisoformat(e["timestamp"]).timestamp()
            for e in stream
            if e["action"] == "found"
        ),
    }


def counters_for(stream: list[dict[str, Any]], run_id: str = "r1") -> MetricsCounters:
    counters = MetricsCounters(run_id, started_at=1000.0)
    for item in stream:
        counters.observe_event(item)
    return counters


# -- tests ------------------------------------------------------------------------


def test_written_counts_equal_the_streams(tmp_path: Path) -> None:
    stream = synthetic_stream()
    expected = expected_from(stream)
    path = tmp_path / "collect.prom"
    assert write_metrics(path, counters_for(stream).snapshot(lambda: 1012.5))
    samples, types = parse_exposition(path.read_text(encoding="utf-8"))

    for provider in ("oxylabs", "browse"):
        sent = value(samples, "collect_requests_sent_total", provider=provider)
        assert sent == expected["sent"][provider]
        for outcome in ("found", "error", "rate_limited"):
            got = value(
                samples, "collect_requests_total", provider=provider, outcome=outcome
            )
            assert got == expected["requests"][provider, outcome], (provider, outcome)
    for error_type in {*ERROR_TYPES, "worker_lost"}:
        got = value(samples, "collect_errors_total", type=error_type)
        assert got == expected["errors"][error_type], error_type
    assert value(samples, "collect_sellers_total", kind="new") == expected["new"]
    assert (
        value(samples, "collect_sellers_total", kind="updated") == expected["updated"]
    )
    assert value(samples, "collect_last_success_timestamp_seconds") == expected["last"]
    assert value(samples, "collect_run_duration_seconds") == 12.5
    assert value(samples, "collect_run_info", run_id="r1") == 1
    assert types == {
        "collect_run_duration_seconds": "gauge",
        "collect_requests_sent_total": "counter",
        "collect_requests_total": "counter",
        "collect_errors_total": "counter",
        "collect_sellers_total": "counter",
        "collect_last_success_timestamp_seconds": "gauge",
        "collect_run_info": "gauge",
    }


def test_the_synthetic_numbers() -> None:
    """The expected counts themselves, so the comparison above cannot be vacuous."""
    expected = expected_from(synthetic_stream())
    assert expected["sent"] == {"oxylabs": 4, "browse": 3}
    assert expected["requests"] == {
        ("oxylabs", "found"): 2,
        ("oxylabs", "rate_limited"): 1,
        ("oxylabs", "error"): 1,
        ("browse", "found"): 1,
        ("browse", "error"): 1,
    }
    assert (expected["new"], expected["updated"]) == (9, 3)


def test_an_empty_run_lists_every_error_type_at_zero() -> None:
    text = render_metrics(MetricsCounters("r0", started_at=5.0).snapshot(lambda: 5.0))
    samples, _ = parse_exposition(text)
    errors = {
        dict(labels)["type"]: n
        for (name, labels), n in samples.items()
        if name == "collect_errors_total"
    }
    assert errors == dict.fromkeys(ERROR_TYPES, 0.0)
    assert "collect_last_success_timestamp_seconds" not in {n for n, _ in samples}


def test_exact_text_of_a_small_snapshot() -> None:
    snapshot = MetricsSnapshot(
        run_id="r1",
        duration_seconds=3.0,
        requests_sent=(("oxylabs", 2),),
        requests=(
            (("oxylabs", "error"), 0),
            (("oxylabs", "found"), 2),
            (("oxylabs", "rate_limited"), 0),
        ),
        errors=(("timeout", 0),),
        sellers_new=1,
        sellers_updated=0,
        last_success=1796396400.5,
    )
    assert render_metrics(snapshot) == (
        "# HELP collect_run_duration_seconds Seconds since the run started.\n"
        "# TYPE collect_run_duration_seconds gauge\n"
        "collect_run_duration_seconds 3.0\n"
        "# HELP collect_requests_sent_total Requests sent (fetching events), "
        "by provider.\n"
        "# TYPE collect_requests_sent_total counter\n"
        'collect_requests_sent_total{provider="oxylabs"} 2\n'
        "# HELP collect_requests_total Requests answered, by provider and outcome "
        "(found, error, rate_limited).\n"
        "# TYPE collect_requests_total counter\n"
        'collect_requests_total{provider="oxylabs",outcome="error"} 0\n'
        'collect_requests_total{provider="oxylabs",outcome="found"} 2\n'
        'collect_requests_total{provider="oxylabs",outcome="rate_limited"} 0\n'
        "# HELP collect_errors_total Error and rate_limited events, by error type.\n"
        "# TYPE collect_errors_total counter\n"
        'collect_errors_total{type="timeout"} 0\n'
        "# HELP collect_sellers_total Sellers written to the store: new (inserted) "
        "or updated.\n"
        "# TYPE collect_sellers_total counter\n"
        'collect_sellers_total{kind="new"} 1\n'
        'collect_sellers_total{kind="updated"} 0\n'
        "# HELP collect_last_success_timestamp_seconds Unix time of the last page "
        "fetched successfully.\n"
        "# TYPE collect_last_success_timestamp_seconds gauge\n"
        "collect_last_success_timestamp_seconds 1796396400.5\n"
        "# HELP collect_run_info The run this file describes.\n"
        "# TYPE collect_run_info gauge\n"
        'collect_run_info{run_id="r1"} 1\n'
    )


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain", "plain"),
        ('say "hi"', 'say \\"hi\\"'),
        ("back\\slash", "back\\\\slash"),
        ("two\nlines", "two\\nlines"),
        ('\\"\n', '\\\\\\"\\n'),
    ],
    ids=["plain", "quote", "backslash", "newline", "all"],
)
def test_label_values_are_escaped(raw: str, escaped: str) -> None:
    assert escape_label_value(raw) == escaped


def test_an_odd_run_id_reads_back_unchanged() -> None:
    run_id = 'a\\b"c\nd'
    text = render_metrics(MetricsCounters(run_id, 0.0).snapshot(lambda: 1.0))
    samples, _ = parse_exposition(text)
    assert value(samples, "collect_run_info", run_id=run_id) == 1


def test_concurrent_reader_sees_only_whole_files(tmp_path: Path) -> None:
    """While the file is replaced over and over, every read is a complete file."""
    path = tmp_path / "collect.prom"
    counters = counters_for(synthetic_stream())
    write_metrics(path, counters.snapshot(lambda: 1001.0))
    stop = threading.Event()
    partial: list[str] = []

    def read_until_stopped() -> None:
        while not stop.is_set():
            text = path.read_text(encoding="utf-8")
            if not text.endswith('collect_run_info{run_id="r1"} 1\n'):
                partial.append(text)

    reader = threading.Thread(target=read_until_stopped)
    reader.start()
    try:
        for n in range(100):
            counters.requests_sent["oxylabs"] += 1
            assert write_metrics(path, counters.snapshot(lambda n=n: 1001.0 + n))
    finally:
        stop.set()
        reader.join()
    assert partial == []
    assert [p.name for p in tmp_path.iterdir()] == ["collect.prom"]


def test_a_failed_write_warns_once_and_leaves_no_temporary(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "no-such-folder" / "collect.prom"
    snapshot = MetricsCounters("r1", 0.0).snapshot(lambda: 1.0)
    with caplog.at_level(logging.WARNING, logger="collect.metrics"):
        assert write_metrics(missing, snapshot) is False
    assert caplog.messages == [
        f"metrics file {missing} not written: No such file or directory"
    ]


def test_replace_removes_its_temporary_on_failure(tmp_path: Path) -> None:
    """A target that cannot be replaced (a folder) leaves the folder as it was."""
    target = tmp_path / "collect.prom"
    target.mkdir()
    with pytest.raises(OSError):
        replace_atomically(target, b"x\n")
    assert [p.name for p in tmp_path.iterdir()] == ["collect.prom"]


def test_metrics_file_writes_on_its_interval(tmp_path: Path) -> None:
    now = [100.0]
    path = tmp_path / "collect.prom"
    metrics = MetricsFile(path, "r1", clock=lambda: now[0], interval=5.0)
    metrics.tick()
    first = path.read_text(encoding="utf-8")
    metrics.observe_line(b'{"worker_id":1,"action":"fetching","url":"u"}\n')
    metrics.observe_line(b"not json\n")
    metrics.observe_line(b"[1, 2]\n")
    now[0] = 104.0
    metrics.tick()
    assert path.read_text(encoding="utf-8") == first
    now[0] = 105.0
    metrics.tick()
    samples, _ = parse_exposition(path.read_text(encoding="utf-8"))
    assert value(samples, "collect_requests_sent_total", provider="oxylabs") == 1
    assert value(samples, "collect_run_duration_seconds") == 5.0


def test_metrics_file_warns_once_per_streak(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A folder that vanishes: one warning, not one every few seconds; then recovery."""
    folder = tmp_path / "gone"
    metrics = MetricsFile(folder / "collect.prom", "r1", clock=lambda: 0.0)
    with caplog.at_level(logging.INFO, logger="collect.metrics"):
        assert [metrics.write(), metrics.write(), metrics.write()] == [False] * 3
        folder.mkdir()
        assert metrics.write() is True
    path = folder / "collect.prom"
    assert caplog.messages == [
        f"metrics file {path} not written: No such file or directory",
        f"metrics file {path} written again",
    ]


def test_last_success_survives_a_run_without_one(tmp_path: Path) -> None:
    """The next run starts from the time the previous file recorded."""
    path = tmp_path / "collect.prom"
    write_metrics(path, counters_for(synthetic_stream()).snapshot(lambda: 1001.0))
    recorded = read_last_success(path)
    metrics = MetricsFile(path, "r2", clock=lambda: 2000.0)
    metrics.write()
    samples, _ = parse_exposition(path.read_text(encoding="utf-8"))
    assert recorded == T0.timestamp() + 9
    assert value(samples, "collect_last_success_timestamp_seconds") == recorded
    assert value(samples, "collect_run_info", run_id="r2") == 1
