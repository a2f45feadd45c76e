"""Run the sandbox in a child process, for `collect run --sandbox`.

A process of its own keeps the simulator's HTML generation off the coordinator's
interpreter lock, and it dies with the run.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from types import TracebackType

from collect.errors import CollectError
from collect.sandbox.server import SandboxConfig, sandbox_process_main
from collect.signals import signals_held

START_TIMEOUT = 30.0


class SandboxProcess:
    """Context manager: starts the sandbox, yields its base URL, stops it on exit."""

    def __init__(self, config: SandboxConfig, start_method: str = "spawn") -> None:
        self._config = config
        self._ctx = multiprocessing.get_context(start_method)
        self._process: multiprocessing.process.BaseProcess | None = None

    def __enter__(self) -> str:
        ours, theirs = self._ctx.Pipe(duplex=False)
        self._process = self._ctx.Process(
            target=sandbox_process_main,
            args=(self._config, theirs),
            name="collect-sandbox",
            daemon=True,
        )
        with signals_held():
            self._process.start()
        theirs.close()
        if not ours.poll(START_TIMEOUT):
            self._stop()
            raise CollectError("the sandbox did not start within 30 s")
        try:
            return str(ours.recv())
        except EOFError:
            self._stop()
            raise CollectError("the sandbox exited while starting") from None
        finally:
            ours.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()

    def _stop(self) -> None:
        if self._process is None:
            return
        if self._process.pid is not None and self._process.is_alive():
            os.kill(self._process.pid, signal.SIGUSR1)
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
