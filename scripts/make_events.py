#!/usr/bin/env python3
"""Write a synthetic `collect run` event stream as JSON lines, for tests and benchmarks.

    .venv/bin/python scripts/make_events.py -n 1000000 -o /tmp/events.jsonl
    .venv/bin/python scripts/make_events.py -n 3000 --realtime 4 >> /tmp/live.jsonl

The same seed gives the same file. `--garbage` mixes in lines that are not events and
`--truncate-last` cuts the last line short, as a killed writer on another tool might.
`--realtime` writes each event when its simulated time comes (sped up by the factor),
with timestamps from now, so `collect tail --follow` can be watched on it.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from typing import BinaryIO

import orjson

from collect.events import utc_timestamp
from collect.tail.synthetic import generate_events

GARBAGE = (
    b"Traceback (most recent call last):",
    b'{"id": "x", "timestamp": "2026-09-21T00:00:00.000Z"}',
    b"[1, 2, 3]",
    b'{"worker_id": 3, "action": "found", "phase": "eb',
    b"\xff\xfe not utf-8",
)


def main() -> None:
    args = _parse_args()
    try:
        if args.output:
            with open(args.output, "ab" if args.append else "wb") as out:
                _write(args, out)
        else:
            _write(args, sys.stdout.buffer)
    except BrokenPipeError:
        # The reader went away (`| head`): not an error for a generator.
        sys.stderr.close()


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--events", type=int, default=10_000)
    parser.add_argument("-w", "--workers", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--garbage", type=float, default=0.0, help="share of lines")
    parser.add_argument("--truncate-last", action="store_true")
    parser.add_argument("--realtime", type=float, metavar="SPEED", default=0.0)
    parser.add_argument("-o", "--output", help="file (default: stdout)")
    parser.add_argument("--append", action="store_true", help="append to --output")
    return parser.parse_args()


def _write(args: argparse.Namespace, out: BinaryIO) -> None:
    noise = random.Random(args.seed + 1)
    start = time.time() if args.realtime else None
    kwargs = {"start": start} if start is not None else {}
    held = b""
    stream = generate_events(args.events, args.workers, args.seed, args.runs, **kwargs)
    for when, event in stream:
        if start is not None:
            _wait_until(start + (when - start) / args.realtime, out)
            # Sped up, the simulated clock runs ahead: stamp the time of writing.
            event["timestamp"] = utc_timestamp()
        if args.garbage and noise.random() < args.garbage:
            out.write(noise.choice(GARBAGE) + b"\n")
        out.write(held)
        line = orjson.dumps(event) + b"\n"
        # The last line is only known once the stream ends: hold one back to cut it.
        held = line if args.truncate_last else b""
        if not args.truncate_last:
            out.write(line)
    out.write(held[: len(held) // 2])
    out.flush()


def _wait_until(moment: float, out: BinaryIO) -> None:
    out.flush()
    delay = moment - time.time()
    if delay > 0:
        time.sleep(delay)


if __name__ == "__main__":
    main()
