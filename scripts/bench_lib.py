"""What every benchmark row shares: the result row, timed child processes, the sandbox.

A row compares one figure of collect with a baseline measured in the same
invocation, so that a busy machine slows both sides alike and the ratio still means
something. Child processes are timed with `os.wait4`, which reports the CPU time of
the child and of every process it waited for (workers, writer).
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench-results"
PYTHON = sys.executable


@dataclass
class Row:
    """One line of the table: `ratio` is measured ÷ baseline unless said otherwise."""

    key: str
    title: str
    unit: str
    measured: float | None
    baseline: float | None
    goal: str
    passed: bool | None
    ratio: float | None = None
    baseline_name: str = ""
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ratio is None and self.measured is not None and self.baseline:
            self.ratio = self.measured / self.baseline


def skipped_row(key: str, title: str, reason: str) -> Row:
    return Row(key, title, "", None, None, "", None, note=f"skipped: {reason}")


@dataclass(frozen=True)
class ChildRun:
    """How a child process went: exit status, wall time, CPU time, output.

    No peak memory: a child's ru_maxrss keeps its parent's size from before exec
    (see scripts/bench_peak.py, which measures it properly).
    """

    returncode: int
    wall_s: float
    cpu_s: float
    stdout: bytes
    stderr: bytes


def run_child(
    command: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 600.0,
    stdout_path: Path | None = None,
) -> ChildRun:
    """Run `command` to its end; its CPU time includes the children it reaped."""
    out_file = open(stdout_path, "wb") if stdout_path else subprocess.PIPE  # noqa: SIM115
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=out_file, stderr=subprocess.PIPE, cwd=ROOT
    )
    try:
        stdout, stderr = _communicate(process, timeout)
    finally:
        if stdout_path:
            out_file.close()  # type: ignore[union-attr]
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return ChildRun(
        process.returncode,
        wall,
        usage.ru_utime + usage.ru_stime,
        stdout,
        stderr,
    )


def _communicate(
    process: subprocess.Popen[bytes], timeout: float
) -> tuple[bytes, bytes]:
    """Drain the child's pipes to their end without reaping it.

    Popen.communicate would reap the child through waitpid and lose its rusage.
    """
    deadline = time.monotonic() + timeout
    streams = [s for s in (process.stdout, process.stderr) if s is not None]
    chunks: dict[int, list[bytes]] = {s.fileno(): [] for s in streams}
    with selectors.DefaultSelector() as selector:
        for stream in streams:
            selector.register(stream, selectors.EVENT_READ)
        while selector.get_map():
            if time.monotonic() > deadline:
                process.kill()
                raise TimeoutError(f"{process.args!r} ran over {timeout:.0f} s")
            for key, _ in selector.select(timeout=1.0):
                data = os.read(key.fd, 1 << 16)
                if data:
                    chunks[key.fd].append(data)
                else:
                    selector.unregister(key.fileobj)
    stdout = b"".join(chunks[process.stdout.fileno()]) if process.stdout else b""
    stderr = b"".join(chunks[process.stderr.fileno()]) if process.stderr else b""
    return stdout, stderr


def require_ok(run: ChildRun, what: str) -> None:
    if run.returncode != 0:
        tail = run.stderr.decode(errors="replace")[-2000:]
        raise RuntimeError(f"{what} exited with {run.returncode}:\n{tail}")


# --- the sandbox ------------------------------------------------------------------


@contextmanager
def sandbox(**fields: Any) -> Iterator[str]:
    """A sandbox of its own, in a child process on 127.0.0.1; yields its base URL.

    Each measurement gets a fresh one, so its /stats count that measurement only.
    """
    from collect.sandbox.process import SandboxProcess
    from collect.sandbox.server import SandboxConfig

    with SandboxProcess(SandboxConfig(**fields)) as url:
        yield url


def sandbox_stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/stats", timeout=10) as response:
        return orjson.loads(response.read())


def sandbox_env() -> dict[str, str]:
    """The environment for a child talking to the sandbox's default account."""
    return {**os.environ, "OXYLABS_USERNAME": "sandbox", "OXYLABS_PASSWORD": "sandbox"}


# --- small helpers ----------------------------------------------------------------


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, "rb") as lines:
        for line in lines:
            yield orjson.loads(line)


def iso_seconds(timestamp: str) -> float:
    """Seconds since the epoch of an event timestamp (`...T15:29:11.123Z`)."""
    from datetime import datetime

    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)
