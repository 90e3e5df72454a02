"""Where a request's computation runs: in worker processes, one per core, or on the calling thread.

The service's threads share one interpreter lock, so an assessment computed on a work-pool thread (reading the
portfolio, valuing it, the collateral pass and its stress shocks, the result's JSON) uses one core however many
requests run at once. :class:`ComputePool` hands that computation to ``processes`` worker processes instead:
the request (validated JSON) goes to a worker, the result's canonical JSON text, its hash and the Monte Carlo
draws (``.npy`` bytes) come back; nothing else crosses (no frames, no store, no keys, and not the result as
objects: the text is what the service stores and answers, so the server never decodes it). The calling thread (the work pool's) waits for the result
without holding the lock, and does the storing and the answering as before.

Only inline portfolios go to a worker: fetching facts for ``numbers`` waits on the network, and the fetch stage
(holding the server's source settings) stays in the server process. Stages that cannot be pickled (a closure, a
lambda: tests, embedded deployments) are computed on the calling thread, as with ``processes=0``.

Workers are started with ``spawn`` (as report children are): the program that builds the app must guard its
entry point with ``if __name__ == "__main__":`` (``ipvalue serve`` does).
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, NamedTuple

from ipvalue._allocator import tune_allocator
from ipvalue.service.errors import ApiError
from ipvalue.service.pipeline import Pipeline, run_assessment, run_valuation
from ipvalue.service.store.protocol import hashed_json

__all__ = ["ANSWER_MEMBERS", "ComputePool", "Computed", "compute"]

log = logging.getLogger("ipvalue.service")


class Computed(NamedTuple):
    """A computed request: what the service stores and answers.

    Attributes
    ----------
    output : dict or None
        The result JSON; ``None`` when it came back from a worker process and ``output_json`` answers it as it is
        (a non-empty object none of whose members is named like the answer's own, :data:`ANSWER_MEMBERS`).
    artifacts : bytes or None
        The Monte Carlo draws as ``.npy`` bytes (assessments).
    output_hash : str
        :func:`~ipvalue.service.store.protocol.result_hash` of ``output``.
    output_json : str
        :func:`~ipvalue.service.store.protocol.canonical_json` of ``output``, stored and answered as it is.
    """

    output: dict[str, Any] | None
    artifacts: bytes | None
    output_hash: str
    output_json: str


_RUN = {"assessment": run_assessment, "valuation": run_valuation}

#: the members an answer puts before the result's own (``routes``; a result holding one of them is answered from
#: its objects, not spliced from its text)
ANSWER_MEMBERS = frozenset(
    {"id", "status", "created_at", "links", "input_hash", "output_hash", "version", "seed"}
)

#: the stages a worker process was given (set by its initializer)
_worker_pipeline: Pipeline | None = None


def compute(pipeline: Pipeline, kind: str, payload: dict[str, Any]) -> Computed:
    """Compute an assessment or a valuation, with its result hash and canonical JSON (rendered once).

    Raises what the stages raise (:class:`ipvalue.errors.InputError` for bad input).
    """
    output, artifacts = _RUN[kind](pipeline, payload)
    return Computed(output, artifacts, *hashed_json(output))


def _worker_init(stages: bytes) -> None:
    """A worker process's set-up: its stages, one Monte Carlo thread, the compiled Monte Carlo engine, the allocator.

    One thread: the processes already fill the cores. The compiled engine is loaded when numba is installed: a
    worker serves many requests, so the load is paid once and every assessment then runs compiled, whatever its
    size. glibc's malloc keeps freed memory for the next request's arrays (:func:`ipvalue.runtime.tune_allocator`).
    """
    global _worker_pipeline
    from ipvalue.collateral.liquidation import set_parallel_threads

    read, value, assess = pickle.loads(stages)
    _worker_pipeline = Pipeline(read=read, value=value, assess=assess)
    set_parallel_threads(1)
    _prepare_computing_process()


def _prepare_computing_process() -> None:
    """Ready the process that runs the assessments: the compiled Monte Carlo engine loaded, the allocator tuned.

    A worker process calls it at its start (:func:`_worker_init`); without workers, the service's own process
    (:meth:`ComputePool.start`).
    """
    from ipvalue.collateral.liquidation import load_compiled_engine

    load_compiled_engine()
    tune_allocator()


def _worker_ready() -> int:
    """Import what the default stages import, so that the first request does not."""
    import ipvalue.collateral  # noqa: F401
    import ipvalue.facts.io  # noqa: F401
    import ipvalue.valuation  # noqa: F401

    return multiprocessing.current_process().pid or 0


def _worker_compute(kind: str, payload: dict[str, Any]) -> Computed:
    assert _worker_pipeline is not None, "the worker was not initialised"
    done = compute(_worker_pipeline, kind, payload)
    if done.output and ANSWER_MEMBERS.isdisjoint(done.output):
        return done._replace(output=None)  # the text answers it: the objects need not be pickled and sent
    return done


class ComputePool:
    """Computes assessments and valuations in ``processes`` worker processes (0: on the calling thread).

    Parameters
    ----------
    pipeline : Pipeline
        The stages; ``read``, ``value`` and ``assess`` are sent to the workers (when they can be pickled).
    processes : int
        Worker processes; 0 computes on the calling thread.
    """

    def __init__(self, pipeline: Pipeline, processes: int):
        self.pipeline = pipeline
        self._stages: bytes | None = None
        if processes > 0:
            try:
                self._stages = pickle.dumps((pipeline.read, pipeline.value, pipeline.assess))
            except (pickle.PicklingError, AttributeError, TypeError):
                log.info("the computing stages cannot be pickled: computing on the service's threads")
        self.processes = processes if self._stages is not None else 0
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise ApiError(
                    503, "shutting_down", "the server is shutting down", headers={"Retry-After": "5"}
                )
            if self._executor is None:
                if self._stages is None:  # processes is 0 then: callers run the stages on threads
                    raise RuntimeError("no picklable stages for worker processes")
                stages: bytes = self._stages
                self._executor = ProcessPoolExecutor(
                    self.processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_worker_init,
                    initargs=(stages,),
                )
            return self._executor

    def start(self) -> list[Future[int]]:
        """Start the workers now (each imports the stages' modules) rather than at the first request.

        Without worker processes the service computes in its own process, which is readied here as a worker is
        (the compiled engine loaded, the allocator tuned).
        """
        if not self.processes:
            _prepare_computing_process()
            return []
        pool = self._pool()
        return [pool.submit(_worker_ready) for _ in range(self.processes)]

    def run(self, kind: str, payload: dict[str, Any]) -> Computed:
        """Compute ``kind`` (``"assessment"`` or ``"valuation"``) for ``payload``; blocks the calling thread.

        Raises
        ------
        ApiError
            500 when a worker process died during the computation (the workers are started again for the
            next request).
        """
        if not self.processes or payload.get("patents") is None:
            return compute(self.pipeline, kind, payload)
        pool = self._pool()
        try:
            return pool.submit(_worker_compute, kind, payload).result()
        except BrokenProcessPool:
            log.error("a compute worker process died; starting the workers again")
            with self._lock:
                if self._executor is pool:
                    self._executor = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise ApiError(500, "internal_error", "internal error") from None

    def close(self, drained: bool = True) -> None:
        """Stop the workers: let them exit when ``drained`` (nothing computing), else kill them.

        Parameters
        ----------
        drained : bool
            Whether the work pool finished its work within the grace period.
        """
        with self._lock:
            self._closed = True
            pool, self._executor = self._executor, None
        if pool is None:
            return
        if not drained:
            for p in list((getattr(pool, "_processes", None) or {}).values()):
                if p.is_alive():
                    p.kill()
        pool.shutdown(wait=True, cancel_futures=True)
