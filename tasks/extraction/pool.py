"""Bounded extraction in worker processes.

Each worker runs one extraction at a time under a SIGALRM timer; a worker that overruns the
timer by more than a grace period (stuck in C code), or dies, is killed and replaced. The
dispatcher knows which item each worker holds, so a crash or a hang costs exactly that item
(it gets a feed-fallback result with an error) and no other item is lost or run twice.

Each worker also holds its next item, already sent: it starts on it the moment it sends a
result, instead of waiting for the parent to answer. The parent is busy with downloads,
storing and analysis, and a thread there waits up to the GIL's switch interval (5 ms)
to run; with pages that take 10-15 ms that wait alone left the cores idle a third of
the time. Items travel through a sender thread per worker, so a large page never blocks
the dispatcher while the worker is still busy with the one before.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import itertools
import logging
import os
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.reduction import ForkingPickler
from typing import Any, TypeVar

from tasks.child_process import name_process, serve_requests, worker_context
from tasks.extraction.article import Extracted, ExtractionInput, extract_article, fallback_result

logger = logging.getLogger(__name__)

K = TypeVar("K")
ExtractFn = Callable[[ExtractionInput], Extracted]

_MAX_SEND_ATTEMPTS = 3
_MAX_STARTUP_FAILURES = 3
_READY = "ready"
_ITEMS_PER_WORKER = 2  # the one being extracted and the next, already sent


class _ExtractionTimeout(BaseException):
    """Raised by SIGALRM inside a worker. BaseException so no `except Exception` swallows it."""


def _raise_timeout(signum: int, frame: Any) -> None:
    raise _ExtractionTimeout


def _seconds(value: float) -> str:
    return f"{value:g}"


def _run_bounded(extract_fn: ExtractFn, inp: ExtractionInput, timeout: float) -> Extracted:
    use_alarm = hasattr(signal, "setitimer")
    try:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            return extract_fn(inp)
        finally:
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
    except _ExtractionTimeout:
        return fallback_result(inp, f"extraction timed out after {_seconds(timeout)} s")
    except Exception as exc:
        return fallback_result(inp, f"extraction failed: {type(exc).__name__}: {exc}")


def _worker_main(conn: Connection, extract_fn: ExtractFn, timeout: float) -> None:
    """Loop in a worker process: receive (job id, input), send back (job id, result)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    name_process("nw-extractor")
    if hasattr(signal, "SIGALRM"):
        signal.signal(signal.SIGALRM, _raise_timeout)
    # Nobody configures logging here: keep trafilatura's per-page complaints off stderr.
    for name in ("trafilatura", "htmldate", "courlan", "justext", "readability"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    # Jobs (and their deadlines) start only once the worker says it is ready, so a slow
    # start on a busy machine never counts against a page's timeout.
    try:
        conn.send(_READY)
    except (OSError, ValueError):
        return
    serve_requests(conn, lambda message: (message[0], _run_bounded(extract_fn, message[1], timeout)))


@dataclass
class _Job:
    job_id: int
    inp: ExtractionInput
    future: concurrent.futures.Future[Extracted]
    failed_sends: int = 0  # writes to a worker that failed (it died as the page went out)
    started: bool = False  # future marked running (happens once, before the first send)
    delivered: bool = False  # wholly written to a worker's pipe


_STOP = object()  # tells a sender thread to send the worker its stop message and end


class _Worker:
    def __init__(self, context: Any, extract_fn: ExtractFn, timeout: float, wake: Callable[[], None]) -> None:
        parent_conn, child_conn = context.Pipe(duplex=True)
        self.conn: Connection = parent_conn
        self.process = context.Process(
            target=_worker_main,
            args=(child_conn, extract_fn, timeout),
            name="newswatch-extractor",
            daemon=True,
        )
        self.process.start()
        child_conn.close()
        # Sent and not yet answered, oldest first: the worker is extracting jobs[0].
        self.jobs: deque[_Job] = deque()
        self.deadline = 0.0  # for jobs[0]
        self.completed = 0
        self.broken = False  # its pipe failed: waiting for its sentinel to replace it
        self.ready = False   # said "ready": takes jobs from then on
        self._wake = wake
        self._outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._sender = threading.Thread(target=self._send_loop, name="newswatch-extractor-send", daemon=True)
        self._sender.start()

    @property
    def busy(self) -> bool:
        return bool(self.jobs)

    def send(self, job: _Job, payload: bytes | memoryview) -> None:
        """Queue ``job`` for the worker, behind those already sent (never blocks)."""
        self._outbox.put((job, payload))

    def _send_loop(self) -> None:
        # Blocks in the write while the worker is busy, without holding the GIL or the
        # dispatcher; a write that fails marks the worker broken (its process died).
        while True:
            item = self._outbox.get()
            if item is _STOP:
                with contextlib.suppress(OSError, ValueError):
                    self.conn.send(None)
                return
            job, payload = item
            try:
                self.conn.send_bytes(payload)
            except (OSError, ValueError):
                job.failed_sends += 1
                self.broken = True
                self._wake()
                return
            job.delivered = True

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        self._outbox.put(_STOP)
        self.process.join(timeout=2.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=2.0)
        self._sender.join(timeout=2.0)  # a write to the dead process has failed by now
        self.conn.close()


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


class ExtractorPool:
    """Extraction in ``workers`` processes, each item bounded by ``timeout_seconds``.

    Futures from ``submit`` always resolve to an ``Extracted`` (never an exception): a
    timed-out, crashed or failed extraction yields the feed fallback with ``error`` set.
    ``extract_fn`` (a module-level function, for pickling) replaces ``extract_article``,
    e.g. in tests; ``fast`` runs trafilatura's fast mode (see extract_article). A worker
    still busy ``kill_grace_seconds`` after its timer is killed and replaced. Workers start
    in the background; the first result waits for them. Safe to use from a process that
    runs threads (fork server or spawn, never plain fork). With the fork server the main
    module is imported once more in it, so it needs the usual ``__main__`` guard.
    """

    def __init__(
        self,
        workers: int | None = None,
        timeout_seconds: float = 30.0,
        *,
        extract_fn: ExtractFn = extract_article,
        fast: bool = False,
        max_in_flight: int | None = None,
        kill_grace_seconds: float | None = None,
        mp_context: Any = None,
    ) -> None:
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        if fast:
            if extract_fn is not extract_article:
                raise ValueError("fast applies to the default extract_fn only")
            extract_fn = functools.partial(extract_article, fast=True)
        self.workers = max(1, workers or _usable_cpus())
        self.timeout_seconds = timeout_seconds
        self.kill_grace_seconds = (
            kill_grace_seconds if kill_grace_seconds is not None else max(2.0, timeout_seconds / 4)
        )
        self.max_in_flight = max_in_flight or self.workers * 2
        self._extract_fn = extract_fn
        self._context = mp_context or worker_context()
        self._lock = threading.Lock()
        self._pending: deque[_Job] = deque()
        self._job_ids = itertools.count()
        self._closing = False
        self._closed = False
        self._failure: str | None = None
        self._startup_failures = 0
        self.restarts = 0  # workers replaced after a crash or a hang (for summaries and tests)
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        # Started by the dispatcher thread: the first fork server start (about a second,
        # importing trafilatura once) then overlaps with the caller's first downloads.
        self._workers: list[_Worker] = []
        self._thread = threading.Thread(
            target=self._dispatch_loop, name="newswatch-extractor-dispatch", daemon=True
        )
        self._thread.start()

    # -- public API ---------------------------------------------------------------------

    def submit(self, inp: ExtractionInput) -> concurrent.futures.Future[Extracted]:
        future: concurrent.futures.Future[Extracted] = concurrent.futures.Future()
        with self._lock:
            if self._closing:
                raise RuntimeError("ExtractorPool is closed")
            if self._failure is None:
                self._pending.append(_Job(next(self._job_ids), inp, future))
                self._wake()
                return future
        future.set_result(fallback_result(inp, f"extractor pool failed: {self._failure}"))
        return future

    def map_unordered(
        self, inputs: Iterable[tuple[K, ExtractionInput]]
    ) -> Iterator[tuple[K, Extracted]]:
        """Yield (key, result) as results arrive, with at most max_in_flight submitted."""
        source = iter(inputs)
        in_flight: dict[concurrent.futures.Future[Extracted], K] = {}
        exhausted = False
        while True:
            while not exhausted and len(in_flight) < self.max_in_flight:
                try:
                    key, inp = next(source)
                except StopIteration:
                    exhausted = True
                    break
                in_flight[self.submit(inp)] = key
            if not in_flight:
                return
            done, _ = concurrent.futures.wait(
                in_flight, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in done:
                yield in_flight.pop(future), future.result()

    def close(self, cancel_pending: bool = False) -> None:
        """Stop the workers once the submitted items are done. With ``cancel_pending``,
        items not yet started resolve at once to the feed fallback ("cancelled")."""
        with self._lock:
            first_close = not self._closing
            self._closing = True
            dropped = list(self._pending) if cancel_pending else []
            if cancel_pending:
                self._pending.clear()
            self._wake()
        for job in dropped:
            if job.started or job.future.set_running_or_notify_cancel():
                job.future.set_result(
                    fallback_result(job.inp, "extraction cancelled: the pool was closed")
                )
        self._thread.join()
        if first_close:
            with self._lock:
                self._closed = True
                os.close(self._wake_read)
                os.close(self._wake_write)

    def __enter__(self) -> ExtractorPool:
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        # Leaving on an exception (Ctrl-C included): do not wait for queued pages.
        self.close(cancel_pending=exc_type is not None)

    # -- dispatcher (runs in its own thread) ---------------------------------------------

    def _new_worker(self) -> _Worker:
        return _Worker(self._context, self._extract_fn, self.timeout_seconds, self._wake_from_sender)

    def _wake(self) -> None:
        """Interrupt the dispatcher's wait (call with the lock held)."""
        if self._closed:
            return
        with contextlib.suppress(OSError):  # a full pipe already means "wake up"
            os.write(self._wake_write, b"x")

    def _wake_from_sender(self) -> None:
        with self._lock:
            self._wake()

    def _dispatch_loop(self) -> None:
        try:
            for _ in range(self.workers):
                self._workers.append(self._new_worker())
            while self._dispatch_once():
                pass
        except BaseException as exc:  # never leave a future unresolved
            logger.exception("extractor pool dispatcher failed")
            self._fail_everything(f"{type(exc).__name__}: {exc}")
        finally:
            for worker in self._workers:
                worker.stop(kill=worker.busy)

    def _dispatch_once(self) -> bool:
        """One round: hand out work, wait for an event, handle it. False when finished."""
        self._assign_pending()
        busy = [worker for worker in self._workers if worker.busy]
        with self._lock:
            if self._closing and not self._pending and not busy:
                return False
        now = time.monotonic()
        timeout = min((worker.deadline - now for worker in busy), default=None)
        waitables: list[Any] = [self._wake_read]
        waitables += [worker.conn for worker in self._workers if worker.busy or not worker.ready]
        waitables += [worker.process.sentinel for worker in self._workers]
        ready = set(wait(waitables, timeout=max(0.0, timeout) if timeout is not None else None))
        if self._wake_read in ready:
            os.read(self._wake_read, 4096)
        for index, worker in enumerate(self._workers):
            if worker.conn in ready and (worker.busy or not worker.ready):
                self._receive(index, worker)
            elif worker.process.sentinel in ready:
                self._receive_left_over(index, worker)
                self._replace(index, worker, "extraction worker crashed (exit code "
                              f"{worker.process.exitcode})")
        now = time.monotonic()
        for index, worker in enumerate(self._workers):
            if worker.busy and now >= worker.deadline:
                self._replace(index, worker, "extraction timed out after "
                              f"{_seconds(self.timeout_seconds)} s (worker killed)")
        return True

    def _assign_pending(self) -> None:
        for worker in self._workers:
            while len(worker.jobs) < _ITEMS_PER_WORKER and worker.ready and not worker.broken:
                job = self._next_job()
                if job is None:
                    return
                self._send(worker, job)

    def _next_job(self) -> _Job | None:
        """The oldest pending job, started; jobs the caller cancelled meanwhile are dropped."""
        while True:
            with self._lock:
                if not self._pending:
                    return None
                job = self._pending.popleft()
            if job.started or job.future.set_running_or_notify_cancel():
                job.started = True
                return job

    def _send(self, worker: _Worker, job: _Job) -> None:
        try:
            payload = ForkingPickler.dumps((job.job_id, job.inp))
        except Exception as exc:  # the input itself cannot travel
            job.future.set_result(fallback_result(job.inp, f"could not hand the page to a worker: {exc}"))
            return
        job.delivered = False
        if not worker.jobs:
            worker.deadline = time.monotonic() + self.timeout_seconds + self.kill_grace_seconds
        worker.jobs.append(job)
        worker.send(job, payload)

    def _receive(self, index: int, worker: _Worker) -> None:
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):
            worker.process.join(timeout=1.0)
            self._replace(index, worker, "extraction worker crashed (exit code "
                          f"{worker.process.exitcode})")
            return
        self._handle_message(worker, message)

    def _receive_left_over(self, index: int, worker: _Worker) -> None:
        """Results a worker sent before it died: they count, so the crash is blamed on the
        job it was really on."""
        with contextlib.suppress(EOFError, OSError):
            while worker.conn.poll(0):
                self._handle_message(worker, worker.conn.recv())

    def _handle_message(self, worker: _Worker, message: Any) -> None:
        if message == _READY:
            worker.ready = True
            return
        job_id, result = message
        if not worker.jobs or worker.jobs[0].job_id != job_id:
            logger.warning("extraction worker answered job %s out of turn; ignored", job_id)
            return
        job = worker.jobs.popleft()
        # The worker has already started on the next job, if it holds one: its clock runs.
        worker.deadline = time.monotonic() + self.timeout_seconds + self.kill_grace_seconds
        worker.completed += 1
        self._startup_failures = 0
        job.future.set_result(result)

    def _replace(self, index: int, worker: _Worker, error: str) -> None:
        """Kill ``worker``, resolve the job it was on (if any) with ``error``, put the jobs
        it had not started back at the front of the queue, start a fresh worker."""
        jobs = list(worker.jobs)
        worker.jobs.clear()
        worker.stop(kill=True)
        self.restarts += 1
        # The first job was being extracted if it reached the worker; if not, the worker
        # died before taking it and it is as innocent as the ones behind it.
        job = jobs.pop(0) if jobs and jobs[0].delivered else None
        self._requeue(jobs)
        if job is None and worker.completed == 0:
            # Died idle before doing any work: restarting would only loop.
            self._startup_failures += 1
            if self._startup_failures >= _MAX_STARTUP_FAILURES:
                raise RuntimeError(
                    f"extraction workers die on startup (exit code {worker.process.exitcode}); "
                    "is the main module missing an `if __name__ == '__main__':` guard?"
                )
        if job is not None:
            job.future.set_result(fallback_result(job.inp, error))
            logger.warning("%s: %s", error, job.inp.url)
        self._workers[index] = self._new_worker()

    def _requeue(self, jobs: list[_Job]) -> None:
        """Jobs a dead worker never started go back to the front, in order; one whose
        sending failed _MAX_SEND_ATTEMPTS times gets the fallback instead of looping."""
        retry = []
        for job in jobs:
            if job.failed_sends < _MAX_SEND_ATTEMPTS:
                retry.append(job)
            else:
                job.future.set_result(fallback_result(job.inp, "could not hand the page to a worker"))
        with self._lock:
            self._pending.extendleft(reversed(retry))

    def _fail_everything(self, reason: str) -> None:
        with self._lock:
            self._failure = reason
            jobs = list(self._pending)
            self._pending.clear()
        jobs += [job for worker in self._workers for job in worker.jobs]
        for job in jobs:
            if job.future.done():
                continue
            if job.future.running() or job.future.set_running_or_notify_cancel():
                job.future.set_result(fallback_result(job.inp, f"extractor pool failed: {reason}"))
