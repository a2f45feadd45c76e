"""Run a Python module in this process and record its peak memory when it exits.

    python scripts/bench_peak.py PEAK_FILE collect tail FILE --summary --json

Writes this process's VmHWM (kB) to PEAK_FILE at exit. Read from /proc rather than
from wait4's ru_maxrss, because on Linux a child's ru_maxrss keeps the parent's
resident size from before exec: a small child of a big benchmark process would show
the benchmark's memory, not its own.
"""

from __future__ import annotations

import atexit
import runpy
import sys


def peak_kib() -> int:
    """This process's peak resident set size since exec, in KiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def _record_peak(path: str) -> None:
    with open(path, "w", encoding="ascii") as out:
        out.write(str(peak_kib()))


def main() -> None:
    peak_file, module, *arguments = sys.argv[1:]
    atexit.register(_record_peak, peak_file)
    sys.argv = [module, *arguments]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
