"""The writer benchmark, in a child process of its own so its peak memory is its own.

    python scripts/bench_writer.py --events 1000000 --producers 4 --out F --store S
    python scripts/bench_writer.py --events 1000000 --baseline --out F

Without --baseline this process runs `collect.writer.writer_main` itself, fed
through a real multiprocessing queue (the coordinator's size, 20,000) by producer
processes that build events the way workers do (`EventEmitter`). With --baseline it
builds the same event dicts and writes them with orjson in one loop. Either way it
prints one JSON object: events, seconds, this process's peak RSS, and the CPU
time of this process and of the producers. --profile PATH writes a cProfile of the
writer (this process) for a maintainer to read with pstats.
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import resource
import threading
import time
from typing import Any

import orjson
from bench_peak import peak_kib

from collect.events import utc_timestamp
from collect.worker import EventEmitter
from collect.writer import WriterConfig, writer_main

RUN_ID = "20261204T000000Z-bench0"
QUEUE_SIZE = 20_000
URL = (
    "https://www.ebay.com/sch/i.html?_nkw=wireless+earbuds+bluetooth+5.3+headphones"
    "&_sacat=0&LH_ItemCondition=1000&LH_FS=1&LH_PrefLoc=1&_udlo=23.99&_udhi=35.99"
    "&_ipg=60&_pgn=1"
)
PARAMS = {"query": "wireless earbuds bluetooth 5.3 headphones", "page": 1}
CONTEXT = {
    "category": "Electronics",
    "product_name": "Wireless Earbuds Bluetooth 5.3 Headphones with Charging Case",
    "asin": "B0BENCH001",
}


def event_fields(sequence: int) -> tuple[str, str, dict[str, Any]]:
    """(phase, action, fields) of a worker's n-th event: fetching and found in turn."""
    if sequence % 2 == 0:
        fields = {"url": URL, "api_params": PARAMS, "attempt": 1, **CONTEXT}
        return "ebay", "fetching", fields
    fields = {
        "url": URL,
        "api_params": PARAMS,
        "duration_ms": 812,
        "items_count": 57,
        "new_sellers_count": 41,
        **CONTEXT,
    }
    return "ebay", "found", fields


def produce(worker_id: int, count: int, queue: Any, start: Any) -> None:
    """A stand-in worker: `count` events onto the writer's queue, as fast as it can."""
    emit = EventEmitter(worker_id, RUN_ID, queue.put)
    start.wait()
    for sequence in range(count):
        phase, action, fields = event_fields(sequence)
        emit(phase, action, started_at=utc_timestamp(), **fields)
    emit.flush()


def run_writer(
    events: int, producers: int, out: str, store: str, profile: str | None = None
) -> float:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue(maxsize=QUEUE_SIZE)
    start = ctx.Barrier(producers + 1)
    share = [events // producers + (i < events % producers) for i in range(producers)]
    processes = [
        ctx.Process(target=produce, args=(i + 1, share[i], queue, start))
        for i in range(producers)
    ]
    for process in processes:
        process.start()
    start.wait()
    began = time.perf_counter()

    def stop_when_done() -> None:
        for process in processes:
            process.join()
        queue.put(("stop",))

    stopper = threading.Thread(target=stop_when_done)
    stopper.start()
    config = WriterConfig(out_path=out, store_path=store, run_id=RUN_ID)
    if profile:
        cProfile.runctx(
            "writer_main(config, queue)", globals(), locals(), filename=profile
        )
    else:
        writer_main(config, queue)
    seconds = time.perf_counter() - began
    stopper.join()
    return seconds


def run_baseline(events: int, out: str) -> float:
    began = time.perf_counter()
    with open(out, "wb") as output:
        for sequence in range(events):
            phase, action, fields = event_fields(sequence)
            event = {
                "id": f"{RUN_ID}.1.{sequence + 1}",
                "timestamp": utc_timestamp(),
                "worker_id": 1,
                "phase": phase,
                "action": action,
                "run_id": RUN_ID,
                "started_at": utc_timestamp(),
                **fields,
            }
            output.write(orjson.dumps(event) + b"\n")
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--producers", type=int, default=4)
    parser.add_argument("--out", required=True)
    parser.add_argument("--store")
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--profile", metavar="PATH", help="cProfile the writer")
    args = parser.parse_args()
    if args.baseline:
        seconds = run_baseline(args.events, args.out)
    else:
        seconds = run_writer(
            args.events, args.producers, args.out, args.store, args.profile
        )
    own = resource.getrusage(resource.RUSAGE_SELF)
    producers = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {
        "events": args.events,
        "seconds": seconds,
        "max_rss_mb": peak_kib() / 1024,
        "writer_cpu_s": own.ru_utime + own.ru_stime,
        "producers_cpu_s": producers.ru_utime + producers.ru_stime,
    }
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
