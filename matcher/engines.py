"""Where a run's passes over the partitions execute: in the run's own process, or on a Ray cluster.

Both run the same pass functions (``matcher.run_passes``) on the same partitions; only the place differs, so a
run's rows are the same on either (tests/matcher/test_run_ray.py compares them). Ray is an optional extra
(``pip install 'huiqi[scale]'``): the default engine needs nothing beyond the project.

Ray Core tasks, not Ray Data: a pass over a partition is one task that returns a few small Python objects to the
driver (person pairs, budget demand, counts) and writes its rows to the database itself; there are no row
batches flowing between operators for Ray Data to stream. A worker reads its partition's registry rows from the
files the run split the registry into (``features.registries.split``), and checks them itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

__all__ = ["ENGINES", "Local", "PassEngine", "Ray", "RayUnavailable", "open_engine"]

ENGINES = ("local", "ray")


class RayUnavailable(RuntimeError):
    """``--engine ray`` without Ray installed, or with a cluster that does not answer."""


class PassEngine(Protocol):
    name: str
    remote: bool  # passes run in other processes: frames wait in a folder, the database is opened by URL

    def map(self, fn: Callable[..., Any], calls: Sequence[tuple], done: Callable[[int], None]) -> list[Any]: ...


class Local:
    """One partition after another, in the run's own process."""

    name, remote = "local", False

    def map(self, fn: Callable[..., Any], calls: Sequence[tuple], done: Callable[[int], None]) -> list[Any]:
        out = []
        for call in calls:
            out.append(fn(*call))
            done(len(out))
        return out


class Ray:
    """Partitions as Ray tasks, as many at once as the cluster has CPUs; ``address=None`` starts a local cluster
    (or joins the one this process already started)."""

    name, remote = "ray", True

    def __init__(self, address: str | None = None, cpus: int | None = None) -> None:
        try:
            import ray
        except ImportError as exc:  # the optional extra
            raise RayUnavailable(
                "--engine ray: Ray is not installed; install the scale extra (pip install 'huiqi[scale]') "
                "or run with the default --engine local"
            ) from exc
        self.ray = ray
        if not ray.is_initialized():
            try:
                ray.init(
                    address=address,
                    num_cpus=None if address else cpus,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                )
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise RayUnavailable(
                    f"--engine ray: could not reach the Ray cluster at {address or 'a new local cluster'} ({exc});"
                    " check the address (ray://HOST:10001) and that the cluster is up"
                ) from exc

    def map(self, fn: Callable[..., Any], calls: Sequence[tuple], done: Callable[[int], None]) -> list[Any]:
        task = self.ray.remote(max_retries=0)(fn)  # a failed pass fails the run; rerunning it resumes
        refs = [task.remote(*call) for call in calls]
        pending, finished = list(refs), 0
        try:
            while pending:
                ready, pending = self.ray.wait(pending, num_returns=1)
                self.ray.get(ready)  # a failed pass raises here, as soon as it fails
                finished += len(ready)
                done(finished)
        except BaseException as exc:
            # The others stop before the run lets go of the folder their frames wait in.
            for ref in pending:
                self.ray.cancel(ref, force=True)
            self.ray.wait(pending, num_returns=len(pending), timeout=60)
            # The pass's own error, as the local engine raises it (a registry's problem, a folder the worker cannot
            # read: said to the user as it is), not Ray's wrapper of it with the worker's traceback in its text;
            # that stays attached as the cause.
            cause = getattr(exc, "cause", None) if isinstance(exc, self.ray.exceptions.RayTaskError) else None
            if isinstance(cause, Exception):
                raise cause from exc
            raise
        return self.ray.get(refs)


def open_engine(name: str, address: str | None = None) -> PassEngine:
    if name == "local":
        if address:
            raise ValueError("--address: only with --engine ray (the local engine runs in this process)")
        return Local()
    if name == "ray":
        return Ray(address)
    raise ValueError(f"engine: expected one of {', '.join(ENGINES)}, found {name!r}")
