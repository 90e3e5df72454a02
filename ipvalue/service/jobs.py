"""Where heavy work runs: a bounded pool for requests, leased background jobs, reports in a child process.

* :class:`WorkPool` runs assessments, valuations, replays, monitoring and report rendering on threads of its own,
  never on the event loop or the thread pool that answers health and reads. At most ``workers`` run and
  ``queue_limit`` wait; one more is refused at once (503 with ``Retry-After``), so load is shed instead of piling up.
* :class:`JobRunner` runs large portfolios in the background. A job is *claimed* through the store with a lease
  that a heartbeat renews; a process that dies stops renewing, the lease lapses and another runner (this process
  after a restart, or a second process on the same database) takes the job. Each claim counts an attempt; a job
  claimed more than ``max_attempts`` times is marked failed with its reason, so a job that kills its process is
  not retried forever.
* :func:`render_report` renders a report in a child process killed after a time limit.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ipvalue._version import __version__
from ipvalue.errors import InputError
from ipvalue.service.errors import ApiError, input_error_details
from ipvalue.service.pipeline import Pipeline, run_assessment, run_valuation
from ipvalue.service.store.protocol import (
    AssessmentRecord,
    AssessmentRepository,
    AuditEntry,
    LeaseLost,
    StoreUnavailable,
    result_hash,
)

__all__ = ["WorkPool", "JobRunner", "render_report", "runner_id", "overloaded"]

log = logging.getLogger("ipvalue.service")

T = TypeVar("T")


def runner_id() -> str:
    """An identifier for this process's job runner: host, process id and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def overloaded(retry_after: int, what: str = "the server is busy") -> ApiError:
    """The 503 answered when work cannot be taken now."""
    return ApiError(503, "overloaded", f"{what}; try again later", headers={"Retry-After": str(retry_after)})


class WorkPool:
    """A bounded executor for request work.

    Parameters
    ----------
    workers : int
        Threads running work.
    queue_limit : int
        Work items allowed to wait for a thread.
    retry_after : int
        Seconds sent in ``Retry-After`` when full.
    """

    def __init__(self, workers: int, queue_limit: int, retry_after: int):
        self.workers = workers
        self.capacity = workers + queue_limit
        self.retry_after = retry_after
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ipvalue-work")
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._closed = False

    @property
    def in_flight(self) -> int:
        """Work items running or waiting."""
        return self._in_flight

    def _admit(self) -> None:
        with self._lock:
            if self._closed:
                raise ApiError(
                    503, "shutting_down", "the server is shutting down", headers={"Retry-After": "5"}
                )
            if self._in_flight >= self.capacity:
                raise overloaded(self.retry_after)
            self._in_flight += 1

    def _done(self) -> None:
        with self._lock:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.notify_all()

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            return fn(*args)
        finally:
            self._done()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on a worker thread and await it; 503 at once when the pool is full."""
        self._admit()
        try:
            fut = self._pool.submit(self._call, fn, args)
        except RuntimeError:  # the pool was shut down between admission and submission
            self._done()
            raise overloaded(self.retry_after, "the server is shutting down") from None
        return await asyncio.wrap_future(fut)

    def close(self, grace_s: float) -> bool:
        """Refuse new work, drop waiting work, give running work ``grace_s``; ``True`` when all finished."""
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + grace_s
        with self._lock:
            while self._in_flight > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True


def _report_child(
    report: Callable[[Any, Path, str], None],
    output: dict[str, Any],
    artifacts: bytes | None,
    path: str,
    lang: str,
) -> None:
    from ipvalue.report.assessment_json import assessment_from_json

    try:
        report(assessment_from_json(output, artifacts), Path(path), lang)
    except ImportError:  # an optional extra (e.g. the PDF engine) is not installed
        os._exit(3)


_children_lock = threading.Lock()
_children: set[Any] = set()


def kill_report_children() -> None:
    """Kill every report child still running (at shutdown)."""
    with _children_lock:
        procs = list(_children)
    for p in procs:
        if p.is_alive():
            p.kill()


def render_report(
    report: Callable[[Any, Path, str], None],
    output: dict[str, Any],
    artifacts: bytes | None,
    path: Path,
    lang: str,
    timeout_s: float,
) -> bytes:
    """Render a report from a stored assessment's JSON in a child process; its bytes.

    Raises
    ------
    ApiError
        503 ``report_timeout`` when the child ran longer than ``timeout_s`` (it is killed), 503
        ``not_available`` when the format's optional engine is missing, 500 when the child failed.
    """
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_report_child, args=(report, output, artifacts, str(path), lang), daemon=True)
    proc.start()
    with _children_lock:
        _children.add(proc)
    try:
        proc.join(timeout_s)
        if proc.is_alive():
            proc.kill()
            proc.join(5)
            raise ApiError(
                503,
                "report_timeout",
                f"the report took longer than {timeout_s:g} s and was stopped",
                headers={"Retry-After": "60"},
            )
    finally:
        with _children_lock:
            _children.discard(proc)
    if proc.exitcode == 3:
        raise ApiError(503, "not_available", "this report format is not available on this server")
    if proc.exitcode != 0 or not path.exists():
        log.error("report child exited with %s", proc.exitcode)
        raise ApiError(500, "internal_error", "internal error")
    return path.read_bytes()


class JobRunner:
    """Background jobs on leases (see the module docstring).

    Parameters
    ----------
    store : AssessmentRepository
    pipeline : Pipeline
    workers : int
        Jobs run at once by this process.
    lease_s : float
        Lease length; the heartbeat renews it every third of that.
    max_attempts : int
        Claims allowed before a job is marked failed.
    poll_s : float
        How often the runner looks for jobs it was not told about (lapsed leases, other processes' jobs).
    """

    def __init__(
        self,
        store: AssessmentRepository,
        pipeline: Pipeline,
        workers: int,
        *,
        lease_s: float = 30.0,
        max_attempts: int = 3,
        poll_s: float = 1.0,
    ):
        self.store = store
        self.pipeline = pipeline
        self.owner = runner_id()
        self.lease_s = lease_s
        self.max_attempts = max_attempts
        self.poll_s = poll_s
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ipvalue-job")
        self._free = threading.Semaphore(workers)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._held: set[str] = set()
        self._held_lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start claiming jobs (and renewing the leases held)."""
        for target, name in ((self._loop, "ipvalue-job-claim"), (self._heartbeat, "ipvalue-job-lease")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def wake(self) -> None:
        """Look for jobs now (a job was just submitted)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop claiming; running jobs keep their leases until the process ends."""
        self._stop.set()
        self._wake.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self._free.acquire(timeout=self.poll_s):
                continue
            rec = None
            try:
                rec = self.store.claim_job(self.owner, self.lease_s)
            except Exception:  # noqa: BLE001 - e.g. the database is busy: look again later
                log.warning("could not claim a job", exc_info=True)
            if rec is None or self._stop.is_set():
                self._free.release()
                self._wake.wait(self.poll_s)
                self._wake.clear()
                continue
            with self._held_lock:
                self._held.add(rec.id)
            try:
                self._pool.submit(self._run, rec)
            except RuntimeError:  # stopped meanwhile: the lease lapses and another runner takes the job
                self._release(rec.id)

    def _release(self, record_id: str) -> None:
        with self._held_lock:
            self._held.discard(record_id)
        self._free.release()
        self._wake.set()

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            with self._held_lock:
                held = list(self._held)
            for rid in held:
                try:
                    if not self.store.renew_lease(rid, self.owner, self.lease_s):
                        log.warning("job %s: lease lost", rid)
                except Exception:  # noqa: BLE001 - the next beat tries again
                    log.warning("job %s: lease not renewed", rid, exc_info=True)

    def _run(self, rec: AssessmentRecord) -> None:
        try:
            self._execute(rec)
        except LeaseLost:
            log.warning("job %s was taken over by another runner", rec.id)
        except Exception:  # noqa: BLE001 - e.g. the database stayed busy; the lease lapses, the job is retried
            log.exception("job %s could not be finished", rec.id)
        finally:
            self._release(rec.id)

    def _execute(self, rec: AssessmentRecord) -> None:
        output: dict[str, Any] | None = None
        artifacts: bytes | None = None
        error: dict[str, Any] | None = None
        if rec.attempts > self.max_attempts:
            error = {
                "code": "gave_up",
                "message": f"the job was started {rec.attempts - 1} times and never finished "
                "(the process running it stopped each time); it is not retried",
            }
        else:
            fn = run_assessment if rec.kind == "assessment" else run_valuation

            def progress(f: float) -> None:
                if not self.store.renew_lease(rec.id, self.owner, self.lease_s, progress=f):
                    raise LeaseLost(rec.id)

            try:
                output, artifacts = fn(self.pipeline, rec.input, progress)
            except LeaseLost:
                raise
            except InputError as exc:
                error = {
                    "code": "invalid_input",
                    "message": str(exc),
                    "details": input_error_details(exc, rec.input) or None,
                }
            except ApiError as exc:
                error = {"code": exc.code, "message": exc.message}
            except StoreUnavailable:
                raise
            except Exception:  # noqa: BLE001 - a job's failure is stored, never leaked
                log.exception("job %s failed", rec.id)
                error = {"code": "internal_error", "message": "internal error"}
        audit = AuditEntry(
            action=f"{rec.kind}.{'fail' if error else 'complete'}",
            who=rec.key_id,
            record_id=rec.id,
            input_hash=rec.input_hash,
            output_hash=result_hash(output) if output is not None else None,
            version=__version__,
            policy=rec.policy,
            seed=rec.seed,
            details={"attempt": rec.attempts, "runner": self.owner},
        )
        self.store.finish(
            rec.id, output=output, error=error, audit=audit, artifacts=artifacts, owner=self.owner
        )
