"""Worker processes for the jobs Snakemake runs in its own process: ``--cores N`` does N
cores of work.

The ``run:`` rules' jobs run in threads of Snakemake's process (``force-use-threads``,
profiles/default): no interpreter start-up per job, the package imported and the Project
loaded once. But threads share one interpreter lock: the Python parts of two jobs never run
at once, and ``--cores 2`` did about 1.1 cores of work (issue 26). Here a job's thread hands
the job to a worker process and waits for it without the lock. A worker is forked from
Snakemake's process when a job finds none idle (so at most as many as jobs run at once,
``--cores``), after the modules jobs use are imported (once, in Snakemake's process), and
serves job after job until Snakemake's process ends: it has the imports, the Project and what
jobs compute once (the code's version, for provenance) by the fork, and keeps what it loads (numba's kernels) for its next jobs. Candidates measured
against it (a fresh fork per job, threads): docs/design.md, section 13.

A job that fails in a worker fails its job and nothing else (issue 22's isolation):

* what the job raises comes back as the job's result (:func:`serve` catches everything,
  ``SystemExit`` and ``KeyboardInterrupt`` included), the worker goes on;
* a worker that dies (a crash in compiled code, ``os._exit``, the kernel's OOM killer) closes
  its end of the socket: the waiting thread reads end-of-file and the job fails with one
  line saying how the worker ended; the next job forks a new worker;
* a worker never runs Snakemake's exit handlers (it ends with ``os._exit``) and dies with
  Snakemake's process (``PR_SET_PDEATHSIG``, Linux; elsewhere it ends when its socket closes).

Nothing here imports Snakemake or the rest of the package: the caller
(:func:`superruns.orchestration.jobs.in_snakemake`) hands the job as plain data
(:func:`plain_job`) with a ``runner`` that runs it in the worker and says how it went.
"""

from __future__ import annotations

import atexit
import gc
import os
import queue
import signal
import sys
import threading
from concurrent.futures import Future
from multiprocessing.connection import Connection, Pipe
from multiprocessing.reduction import ForkingPickler
from types import SimpleNamespace
from typing import Callable

__all__ = ["Files", "Pool", "WorkerDied", "plain_job", "pool_for", "restore_job"]


class WorkerDied(RuntimeError):
    """The worker running a job ended before it answered (its one line says how)."""


class Files(list):
    """A job's input, output or log as a worker gets them: the paths in order, and
    ``items()`` of the named ones in their order, as Snakemake's own lists give them."""

    def __init__(self, paths, named=()):
        super().__init__(paths)
        self.named = dict(named)

    def items(self):
        return self.named.items()


def _files(files) -> tuple[list[str], list[tuple[str, str]]]:
    if files is None:
        return [], []
    named = list(files.items()) if hasattr(files, "items") else []
    return [str(f) for f in files], [(name, str(f)) for name, f in named]


def plain_job(smk: dict) -> dict:
    """A ``run:`` job's ``input``, ``output``, ``log``, ``params``, ``wildcards`` and
    ``rule`` (Snakemake's objects) as plain data a worker can be sent."""
    plain = {key: _files(smk.get(key)) for key in ("input", "output", "log")}
    for key in ("params", "wildcards"):
        value = smk.get(key)
        plain[key] = dict(value.items()) if hasattr(value, "items") else dict(vars(value or SimpleNamespace()))
    plain["rule"] = smk.get("rule")
    return plain


def restore_job(plain: dict) -> dict:
    """:func:`plain_job`'s data as the job functions read them (``smk.input.items()``,
    ``smk.output[0]``, ``smk.wildcards.run``, ...)."""
    restored = {key: Files(*plain[key]) for key in ("input", "output", "log")}
    restored["params"] = SimpleNamespace(**plain["params"])
    restored["wildcards"] = SimpleNamespace(**plain["wildcards"])
    restored["rule"] = plain["rule"]
    return restored


def _how_it_ended(pid: int) -> str:
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return "ended"
    if os.WIFSIGNALED(status):
        return f"was killed by signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"


class Worker:
    """One worker process and Snakemake's end of its socket."""

    def __init__(self, pid: int, conn: Connection):
        self.pid, self.conn = pid, conn

    def call(self, message) -> tuple:
        """Send one job, wait for its answer (the interpreter lock released while waiting)."""
        data = ForkingPickler.dumps(message)     # a job that cannot be sent fails here, worker unharmed
        try:
            self.conn.send_bytes(data)
            return self.conn.recv()
        except (EOFError, OSError):
            self.conn.close()
            raise WorkerDied(f"the worker process running it ({self.pid}) {_how_it_ended(self.pid)} "
                             "before the job ended: see the job's log") from None


class Pool:
    """The worker processes of one Project, forked from this process on demand; with
    ``keep=False`` a fresh one per job (a candidate measured, not the default)."""

    def __init__(self, project, runner: Callable, prepare: Callable | None = None, keep: bool = True):
        self.project, self.runner, self.prepare, self.keep = project, runner, prepare, keep
        self.idle: list[Worker] = []
        self.alive: set[Worker] = set()
        self.lock = threading.Lock()
        self.parent = os.getpid()

    def run(self, job_function: Callable, plain: dict) -> tuple[str, str]:
        """Run one job in a worker: ``(status, text)`` as the runner returned it."""
        worker = self._take()
        try:
            answer = worker.call((job_function, plain))
        except WorkerDied:
            with self.lock:
                self.alive.discard(worker)
            raise
        except BaseException:
            with self.lock:
                self.idle.append(worker)
            raise
        with self.lock:
            if self.keep:
                self.idle.append(worker)
            else:
                self.alive.discard(worker)
        if not self.keep:
            worker.conn.close()
            _how_it_ended(worker.pid)
        return answer

    def _take(self) -> Worker:
        with self.lock:
            while self.idle:
                worker = self.idle.pop()
                if not worker.conn.poll():       # an idle worker has nothing to say: unless it died
                    return worker
                worker.conn.close()
                self.alive.discard(worker)
                _how_it_ended(worker.pid)
            worker = _forker().call(self._fork)
            self.alive.add(worker)
            return worker

    def _fork(self) -> Worker:
        """In the forker thread (:class:`_Forker`): a new worker."""
        if self.prepare is not None:         # once, here: every worker has it by the fork
            self.prepare()
            self.prepare = None
        ours, theirs = Pipe()
        gc.freeze()                          # the workers' collections leave our objects alone
        try:
            pid = os.fork()
            if pid == 0:
                self._become_worker(theirs, ours)
        finally:
            if os.getpid() == self.parent:
                gc.unfreeze()
        theirs.close()
        return Worker(pid, ours)

    def _become_worker(self, conn: Connection, ours: Connection) -> None:
        code = 0
        try:
            ours.close()
            for pool in _POOLS.values():     # other workers' sockets: their end-of-file is Snakemake's
                for worker in pool.alive:
                    worker.conn.close()
            _die_with(self.parent)
            serve(conn, self.runner, self.project)
        except BaseException:                # noqa: BLE001 -- a worker never returns into Snakemake's code
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)


_POOLS: dict[int, "Pool"] = {}
_POOLS_LOCK = threading.Lock()


class _Forker:
    """The one thread of this process that forks workers: a worker is sent SIGKILL when the
    thread that forked it ends (Linux's PR_SET_PDEATHSIG), so not a job thread, which might
    end before the worker's last job; this thread lives as long as the process."""

    def __init__(self):
        self.requests: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._loop, name="superruns-worker-forker", daemon=True).start()

    def _loop(self) -> None:
        while True:
            function, future = self.requests.get()
            try:
                future.set_result(function())
            except BaseException as error:   # noqa: BLE001 -- handed to the waiting job thread
                future.set_exception(error)

    def call(self, function: Callable):
        future: Future = Future()
        self.requests.put((function, future))
        return future.result()


_FORKER: _Forker | None = None


def _forker() -> _Forker:
    global _FORKER
    with _POOLS_LOCK:
        if _FORKER is None:
            _FORKER = _Forker()
        return _FORKER


def _die_with(parent: int) -> None:
    """Die with Snakemake's process: SIGKILL when the thread that forked us ends (Linux's
    PR_SET_PDEATHSIG: the forker thread, which ends with the process), or at once if it is
    gone already. The default SIGINT and SIGTERM handling, not Snakemake's handlers."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)     # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(0)


def serve(conn: Connection, runner: Callable, project) -> None:
    """A worker's loop: each message is ``(job_function, plain job)``; the answer is what
    ``runner(job_function, project, plain)`` returns, or ``("failed", line)`` when even that
    raised. Ends when Snakemake's end of the socket closes."""
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        except KeyboardInterrupt:            # Ctrl-C reaches the whole process group
            continue
        job_function, plain = message
        try:
            answer = runner(job_function, project, plain)
        except BaseException as error:       # noqa: BLE001 -- whatever it is, it is the job's
            answer = ("failed", f"the job raised {type(error).__name__} ({error!r}), which no job may raise")
        conn.send(answer)




@atexit.register
def _reap() -> None:
    """At the end of Snakemake's process: close every worker's socket (an idle worker then
    ends) and wait for them, so that their CPU time counts as this process's children's."""
    if not _POOLS or os.getpid() != next(iter(_POOLS.values())).parent:
        return
    for pool in _POOLS.values():
        for worker in list(pool.alive):
            worker.conn.close()
        for worker in list(pool.alive):
            _how_it_ended(worker.pid)


def pool_for(project, runner: Callable, prepare: Callable | None = None, keep: bool = True) -> Pool:
    """The pool of ``project`` (one per Project of this process: a host may include this
    workflow twice). ``prepare`` runs in this process before the first worker is forked (the
    jobs' imports, what they compute once), ``runner`` in a worker for each job."""
    with _POOLS_LOCK:
        pool = _POOLS.get(id(project))
        if pool is None or pool.project is not project:
            pool = _POOLS[id(project)] = Pool(project, runner, prepare, keep)
        return pool
