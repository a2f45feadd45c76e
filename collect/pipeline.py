"""The coordinator: hands tasks to worker processes and follows the run to its end.

    coordinator ──task──▶ worker 1..N ──events, sightings──▶ writer ──▶ JSON lines
         ▲                    │                                  └──▶ seller store
         └─────TaskResult─────┘
         └──products, phase totals, stop──────────────────────▶ writer

Each worker has its own pipe to the coordinator, so the coordinator always knows
which task a worker holds: when a worker dies, that task goes back in the queue and a
new worker takes the slot. Amazon tasks go first; each best-seller page that comes
back adds eBay tasks, one per product not seen before, so the two phases overlap and
the workers never wait for a phase to end. Tasks that failed in a retryable way are
tried again in later rounds, once the rest is done.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import queue
import signal
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from collect.events import EventIds, create_activity_event
from collect.limits import RequestGate
from collect.models import Product
from collect.progress import ProgressLine
from collect.providers.ebay_browse import DailyBudget, budget_path
from collect.providers.token import SharedToken
from collect.resume import Progress, encode_products, page_key
from collect.settings import RunSettings
from collect.signals import signals_held
from collect.worker import AmazonTask, EbayTask, Task, TaskResult, worker_main
from collect.writer import WriterConfig, writer_main

log = logging.getLogger(__name__)

# Seconds in-flight requests get to finish after a stop was asked for.
STOP_GRACE = 10.0
# Seconds the writer gets, after `stop`, to drain the queue and commit.
WRITER_GRACE = 120
# A worker that keeps dying is not restarted forever.
MAX_RESTARTS_PER_SLOT = 3


@dataclass
class WorkerSlot:
    worker_id: int
    process: BaseProcess
    conn: Connection
    incarnation: int = 0
    task: Task | None = None


@dataclass
class RunOutcome:
    """How the run ended: `status` is done, interrupted, output_closed or fatal."""

    status: str = "done"
    signal_number: int | None = None
    message: str | None = None
    totals: dict[str, dict[str, Any]] = field(default_factory=dict)


class Coordinator:
    def __init__(self, settings: RunSettings, progress: Progress | None = None) -> None:
        self.settings = settings
        self.progress = progress or Progress()
        self.progress_line = ProgressLine(enabled=None if settings.progress else False)
        self.ctx = multiprocessing.get_context(settings.start_method)
        self.events = self.ctx.Queue(maxsize=20_000)
        self.output_closed = self.ctx.Event()
        self.store_failed = self.ctx.Event()
        self.gate = RequestGate(self.ctx, settings.rate, settings.max_requests)
        self.browse_gate = RequestGate(self.ctx, settings.browse_rate)
        # One OAuth token for every worker: eBay allows 1,000 token requests a day.
        self.token = SharedToken(self.ctx)
        self.ids = EventIds(settings.run_id, 0)
        self.slots: dict[int, WorkerSlot] = {}
        self.restarts: Counter[int] = Counter()
        self.amazon_tasks: deque[Task] = deque()
        self.ebay_tasks: deque[Task] = deque()
        self.deferred: list[Task] = []
        self.rounds = 0
        self.seen_asins: set[str] = set()
        self.counts: dict[str, Counter[str]] = {"amazon": Counter(), "ebay": Counter()}
        self.amazon_done = False
        self.rate_limited_tasks = 0
        self.reopen_requested = False
        self.hurry = False
        self.outcome = RunOutcome()
        self.stop_requested_at: float | None = None
        self.started = time.monotonic()
        self._plan_amazon()

    # -- the run --------------------------------------------------------------------

    def run(self) -> RunOutcome:
        writer = self.writer = self._start_writer()
        previous = self._install_signal_handlers()
        try:
            for worker_id in range(1, self.settings.workers + 1):
                self._start_worker(worker_id)
            self._loop()
        finally:
            # Our handlers stay after the run too: a late Ctrl-C only hurries the
            # shutdown, it can never cut it short before the writer has its `stop`.
            self.progress_line.close()
            self._stop_workers()
            self._finish(writer)
            signal.signal(signal.SIGHUP, previous[signal.SIGHUP])
        return self.outcome

    def _loop(self) -> None:
        while True:
            self._dispatch()
            if self._finished():
                return
            waitables: list[Any] = [slot.conn for slot in self.slots.values()]
            waitables += [slot.process.sentinel for slot in self.slots.values()]
            for ready in wait(waitables, timeout=0.5):
                self._on_ready(ready)
            self._check_stop()
            self._show_progress()

    def _finished(self) -> bool:
        in_flight = any(slot.task for slot in self.slots.values())
        if self.stop_requested_at is not None:
            grace_over = time.monotonic() - self.stop_requested_at > STOP_GRACE
            return not in_flight or grace_over
        if in_flight or self.amazon_tasks or self.ebay_tasks:
            return False
        if self.deferred and self.rounds < self.settings.requeue_rounds:
            self._next_round()
            return False
        self._give_up_deferred()
        self._maybe_complete_amazon()
        return True

    # -- handing out tasks ----------------------------------------------------------

    def _dispatch(self) -> None:
        if self.stop_requested_at is not None:
            return
        for slot in list(self.slots.values()):
            if slot.task is not None:
                continue
            queue = self.amazon_tasks or self.ebay_tasks
            if not queue:
                return
            task = queue.popleft()
            slot.task = task
            try:
                slot.conn.send(task)
            except OSError:
                self._on_worker_exit(slot)

    def _on_ready(self, ready: Any) -> None:
        for slot in list(self.slots.values()):
            if ready is slot.conn:
                try:
                    result = slot.conn.recv()
                except (EOFError, OSError):
                    self._on_worker_exit(slot)
                    return
                slot.task = None
                self._on_result(slot.worker_id, result)
                return
            if ready == slot.process.sentinel:
                self._on_worker_exit(slot)
                return

    def _on_result(self, worker_id: int, result: TaskResult) -> None:
        phase = "amazon" if isinstance(result.task, AmazonTask) else "ebay"
        counts = self.counts[phase]
        counts["requests"] += result.requests
        counts["pages"] += result.pages
        counts["sightings"] += result.sightings
        if result.error_type == "rate_limit":
            self.rate_limited_tasks += 1
        if result.status == "deferred":
            counts["deferrals"] += 1
            self.deferred.append(_resume(result))
            return
        counts[f"tasks_{result.status}"] += 1
        if result.status == "done" and isinstance(result.task, AmazonTask):
            self._add_products(worker_id, result)
        elif result.status == "fatal":
            self._request_stop("fatal", message=result.message)
        elif result.status == "budget":
            self._requeue_front(_resume(result))
            self._request_stop("budget", message=result.message)
        self._maybe_complete_amazon()

    def _plan_amazon(self) -> None:
        """Queue the best-seller pages, taking finished ones from the progress."""
        for node_id, name in self.settings.node_ids:
            for page in range(1, self.settings.amazon_pages + 1):
                done = self.progress.amazon_pages.get(page_key(node_id, page))
                if done is None:
                    self.amazon_tasks.append(AmazonTask(node_id, name, page))
                else:
                    self.counts["amazon"]["tasks_resumed"] += 1
                    self._plan_ebay(name, done)

    def _add_products(self, worker_id: int, result: TaskResult) -> None:
        task = result.task
        assert isinstance(task, AmazonTask)
        self.counts["amazon"]["products_rejected"] += result.rejected
        fresh = self._plan_ebay(task.category, result.products)
        if fresh:
            self._put(("products", worker_id, fresh))
        payload = encode_products(result.products)
        key = page_key(task.node_id, task.page)
        self._put(("progress", self.settings.job, "amazon", key, payload))

    def _plan_ebay(self, category: str, products: Iterable[Product]) -> list[Product]:
        """Queue one eBay search per product not seen before; return those products."""
        counts = self.counts["amazon"]
        fresh = []
        for product in products:
            if product.asin in self.seen_asins:
                counts["duplicate_asins"] += 1
                continue
            self.seen_asins.add(product.asin)
            fresh.append(product)
            if product.asin in self.progress.searched:
                self.counts["ebay"]["tasks_skipped"] += 1
                continue
            start = self.progress.next_page.get(product.asin, 1)
            if start > self.settings.ebay_pages:
                self.counts["ebay"]["tasks_skipped"] += 1
            else:
                self.ebay_tasks.append(EbayTask(product, category, start))
        counts["products"] += len(fresh)
        return fresh

    def _next_round(self) -> None:
        self.rounds += 1
        pause = min(
            self.settings.retry.backoff_cap, self.settings.retry.backoff_base * 2
        )
        log.warning(
            "round %d: retrying %d task(s) that failed, in %.1f s",
            self.rounds,
            len(self.deferred),
            pause,
        )
        time.sleep(pause)
        for task in self.deferred:
            queue = (
                self.amazon_tasks if isinstance(task, AmazonTask) else self.ebay_tasks
            )
            queue.append(task)
        self.deferred.clear()

    def _give_up_deferred(self) -> None:
        for task in self.deferred:
            phase = "amazon" if isinstance(task, AmazonTask) else "ebay"
            self.counts[phase]["tasks_failed"] += 1
        if self.deferred:
            log.error(
                "gave up on %d task(s) after %d rounds", len(self.deferred), self.rounds
            )
        self.deferred.clear()

    def _maybe_complete_amazon(self) -> None:
        if self.amazon_done or self.amazon_tasks:
            return
        busy = any(isinstance(slot.task, AmazonTask) for slot in self.slots.values())
        waiting = any(isinstance(task, AmazonTask) for task in self.deferred)
        if busy or waiting:
            return
        self.amazon_done = True
        self._complete("amazon", "phase", self._phase_totals("amazon"))

    def _show_progress(self) -> None:
        phase = "ebay" if self.amazon_done else "amazon"
        counts = self.counts[phase]
        done = counts["tasks_done"] + counts["tasks_failed"] + counts["tasks_empty"]
        queue = self.ebay_tasks if self.amazon_done else self.amazon_tasks
        busy = sum(1 for slot in self.slots.values() if slot.task is not None)
        total = done + len(queue) + len(self.deferred) + busy
        self.progress_line.update(phase, done, total, self.gate.spent)

    # -- worker processes -----------------------------------------------------------

    def _start_worker(self, worker_id: int, incarnation: int = 0) -> None:
        ours, theirs = self.ctx.Pipe(duplex=True)
        process = self.ctx.Process(
            target=worker_main,
            args=(
                worker_id,
                self.settings,
                theirs,
                self.events,
                incarnation,
                self.gate,
                self.browse_gate,
                self.token,
            ),
            name=f"collect-worker-{worker_id}",
            daemon=True,
        )
        with signals_held():
            process.start()
        # Only the child may hold its end, so that its death reads as EOF here.
        theirs.close()
        self.slots[worker_id] = WorkerSlot(worker_id, process, ours, incarnation)

    def _on_worker_exit(self, slot: WorkerSlot) -> None:
        slot.process.join(timeout=1)
        slot.conn.close()
        del self.slots[slot.worker_id]
        if self.stop_requested_at is not None and slot.task is None:
            return
        code = slot.process.exitcode
        log.warning(
            "worker %d exited unexpectedly (exit code %s)", slot.worker_id, code
        )
        if slot.task is not None:
            self._requeue_front(slot.task)
            self._report_lost_worker(slot, code)
        self.restarts[slot.worker_id] += 1
        if self.restarts[slot.worker_id] <= MAX_RESTARTS_PER_SLOT:
            self._start_worker(slot.worker_id, slot.incarnation + 1)
        if not self.slots:
            self._request_stop("fatal", message="every worker process died")

    def _requeue_front(self, task: Task) -> None:
        queue = self.amazon_tasks if isinstance(task, AmazonTask) else self.ebay_tasks
        queue.appendleft(task)

    def _report_lost_worker(self, slot: WorkerSlot, exit_code: int | None) -> None:
        task = slot.task
        phase = "amazon" if isinstance(task, AmazonTask) else "ebay"
        self._emit(
            phase,
            "error",
            error_type="worker_lost",
            error_stage="api",
            source_worker_id=slot.worker_id,
            error_message=(
                f"worker {slot.worker_id} exited (exit code {exit_code}); "
                "its task was put back in the queue"
            ),
        )

    def _stop_workers(self) -> None:
        for slot in self.slots.values():
            with contextlib.suppress(OSError):
                slot.conn.send(None)
        deadline = time.monotonic() + 5
        for slot in self.slots.values():
            if not self.hurry:
                slot.process.join(timeout=max(0.1, deadline - time.monotonic()))
            if slot.process.is_alive():
                # Workers ignore SIGTERM (it is the coordinator's), so kill.
                slot.process.kill()
                slot.process.join(timeout=2)
            slot.conn.close()

    # -- stopping -------------------------------------------------------------------

    def _install_signal_handlers(self) -> dict[int, Any]:
        previous = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, self._on_signal)
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, self._on_hangup)
        return previous

    def _on_hangup(self, _signum: int, _frame: Any) -> None:
        # Only a flag: queue operations are not safe inside a signal handler.
        self.reopen_requested = True

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if self.stop_requested_at is not None:
            # A second signal: stop waiting for in-flight requests.
            self.stop_requested_at = 0.0
            self.hurry = True
            return
        log.warning("stopping: finishing requests in flight (signal again to quit now)")
        self._request_stop("interrupted", signal_number=signum)

    def _check_stop(self) -> None:
        if self.reopen_requested:
            self.reopen_requested = False
            self._put(("reopen",))
        if self.stop_requested_at is not None:
            return
        if self.store_failed.is_set():
            self._request_stop(
                "fatal",
                message="the seller store could not be written (see the error "
                "above); stopped so as to spend no more requests",
            )
        elif self.output_closed.is_set():
            self._request_stop("output_closed")
        elif not self.writer.is_alive():
            # It logged why (output or store unusable); nothing could be saved now.
            self._request_stop("fatal", message="the writer process stopped")
            self.stop_requested_at = 0.0

    def _request_stop(
        self,
        status: str,
        *,
        signal_number: int | None = None,
        message: str | None = None,
    ) -> None:
        if self.stop_requested_at is None:
            self.stop_requested_at = time.monotonic()
            self.outcome.status = status
            self.outcome.signal_number = signal_number
            self.outcome.message = message

    # -- totals and the writer ------------------------------------------------------

    def _start_writer(self) -> BaseProcess:
        config = WriterConfig(
            out_path=self.settings.out,
            store_path=self.settings.store,
            run_id=self.settings.run_id,
            batch_size=self.settings.batch_size,
            batch_seconds=self.settings.batch_seconds,
            parent_pid=multiprocessing.current_process().pid,
            run_settings=self.settings.resumable(),
            metrics_path=self.settings.metrics_file,
        )
        process = self.ctx.Process(
            target=writer_main,
            args=(config, self.events, self.output_closed, self.store_failed),
            name="collect-writer",
        )
        with signals_held():
            process.start()
        return process

    def _finish(self, writer: BaseProcess) -> None:
        if not self.amazon_done:
            self.amazon_done = True
            self._complete("amazon", "phase", self._phase_totals("amazon"))
        self._complete("ebay", "phase", self._phase_totals("ebay"))
        run_totals = {
            "status": self.outcome.status,
            "elapsed_s": round(time.monotonic() - self.started, 3),
            "requests": self.gate.spent + self.browse_gate.spent,
            "rounds": self.rounds,
        }
        if self.settings.ebay_source == "browse":
            run_totals["browse_requests"] = self.browse_gate.spent
            run_totals["browse_token_requests"] = self.token.fetches
            budget = DailyBudget(
                budget_path(self.settings.store), self.settings.browse_daily_budget
            )
            run_totals["browse_calls_today"] = budget.used()
            run_totals["browse_daily_budget"] = budget.limit
        self._complete("ebay", "run", run_totals)
        self._put(("stop",))
        self._wait_for_writer(writer)
        self.outcome.totals = {phase: dict(c) for phase, c in self.counts.items()}
        self.outcome.totals["run"] = run_totals
        self.outcome.totals["rate_limited_only"] = bool(self.rate_limited_tasks)

    def _wait_for_writer(self, writer: BaseProcess) -> None:
        """Let the writer drain and commit; never wait forever.

        A worker killed in the middle of a queue write can leave the queue's lock
        held, and then `stop` never arrives. Everything the writer committed before
        stays in the store; the run must still end.
        """
        writer.join(WRITER_GRACE)
        if writer.is_alive():
            log.error(
                "the writer did not finish within %d s; stopping it (the store "
                "keeps every batch it committed)",
                WRITER_GRACE,
            )
            writer.kill()
            writer.join(5)
            # Nobody reads the queue now: do not wait on it at exit either.
            self.events.cancel_join_thread()
            if self.outcome.status == "done":
                self.outcome.status = "fatal"
                self.outcome.message = "the writer process did not finish"

    def _phase_totals(self, phase: str) -> dict[str, Any]:
        totals: dict[str, Any] = dict(self.counts[phase])
        if phase == "amazon":
            totals["categories"] = len(self.settings.node_ids)
        return totals

    def _complete(
        self, phase: str, operation_type: str, totals: dict[str, Any]
    ) -> None:
        self._put(("complete", phase, totals, operation_type))

    def _put(self, message: tuple[Any, ...]) -> None:
        """Queue a message for the writer, unless the writer is gone."""
        while self.writer.is_alive():
            try:
                self.events.put(message, timeout=0.5)
                return
            except queue.Full:
                continue

    def _emit(self, phase: str, action: str, **fields: Any) -> None:
        event = create_activity_event(
            0, phase, action, id=self.ids.next(), run_id=self.settings.run_id, **fields
        )
        self._put(("line", event.to_json_line()))


def _resume(result: TaskResult) -> Task:
    task = result.task
    if isinstance(task, EbayTask) and result.resume_page:
        return EbayTask(task.product, task.category, result.resume_page)
    return task


def run_collection(
    settings: RunSettings, progress: Progress | None = None
) -> RunOutcome:
    return Coordinator(settings, progress).run()
