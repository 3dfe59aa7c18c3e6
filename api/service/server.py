"""Serving the app with uvicorn: one process, or several workers each listening on its own socket.

uvicorn's own ``--workers`` hands one listening socket to every worker; whichever worker is awake
accepts every connection that arrives meanwhile, so a burst of keep-alive connections (a load
balancer's pool, a crowd of clients) lands on one worker — 48 of 50 on one of two, measured here —
and the other idles while latency doubles. Here each worker opens its own socket on the same address
with SO_REUSEPORT, and the kernel spreads the connections over them evenly.

Workers share nothing but the database: the run and training workers of the service claim their
requests there (api/service/runner.py, trainer.py), so any worker may accept them. The supervisor
restarts a worker that dies, and stops everything on SIGINT or SIGTERM.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from api.service.logs import ACCESS_LOG_ENV
from api.settings import Settings
from matcher.db import open_database

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["serve"]

log = logging.getLogger("huiqi.service.server")


def serve(
    settings: Settings, host: str, port: int, *, workers: int = 1, access_log: bool = True, log_level: str = "info"
) -> None:
    """Serve until interrupted. ``workers`` > 1 needs SO_REUSEPORT (Linux, the BSDs, macOS)."""
    # No `server: uvicorn` header: it tells a prober what to try, and nobody else needs it.
    options = {"log_level": log_level, "access_log": False, "server_header": False}
    # The access log is huiqi's own, one JSON line per request with its request id (api/service/logs.py), in place
    # of uvicorn's; the workers (spawned) inherit the switch through the environment.
    os.environ[ACCESS_LOG_ENV] = "json" if access_log else "off"
    if workers == 1:
        from api.service import create_app

        uvicorn.run(_ready(create_app(settings)), host=host, port=port, **options)
        return
    if not hasattr(socket, "SO_REUSEPORT"):
        raise SystemExit("several workers need SO_REUSEPORT, which this platform lacks: use --workers 1")
    _refuse_taken(host, port)
    open_database(settings.database).dispose()  # migrate once here, not in every worker at the same time
    # Each worker counts its requests in its own files there; a scrape of any worker sums them (api/service/metrics.py).
    from api.service.metrics import prepare_multiprocess

    prepare_multiprocess(settings.data_dir)
    _supervise(settings, host, port, workers, options)


# How long a starting worker waits for the champion before it listens anyway: a model store that hangs (a
# tracking server down, its client retrying) must not keep the service from starting. Past it the read goes on in
# the background, and explanations wait for it in threads, as they would without the wait.
READY_SECONDS = 20.0


def _ready(app: FastAPI, wait: float = READY_SECONDS) -> FastAPI:
    """The app with the ranker's champion read, before it takes a connection: reading it imports MLflow and builds
    the booster (about 3 s of CPU), which the first explanations would otherwise wait for — every request a
    restarted worker was given under load. A worker's socket takes connections only once uvicorn listens on it;
    meanwhile the kernel gives them to the others. Waits at most ``wait`` seconds; never raises (a store that
    cannot be read is logged and read again later: api/service/ranker.py)."""
    reader = threading.Thread(target=app.state.service.ranker.champion, name="huiqi-champion", daemon=True)
    reader.start()
    reader.join(wait)
    if reader.is_alive():
        log.warning("the champion was not read within %.0f s: serving meanwhile, explanations wait for it", wait)
    return app


def _address(host: str, port: int) -> tuple[socket.AddressFamily, tuple]:
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    return family, address


def _refuse_taken(host: str, port: int) -> None:
    # Without this check a second `huiqi serve` on the same port would join the first one's workers.
    family, address = _address(host, port)
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR: a stopped server's connections lingering in TIME_WAIT do not count as taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise SystemExit(f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port") from exc


def _worker(settings: Settings, host: str, port: int, options: dict, workers: int) -> None:
    from api.service import create_app

    try:
        family, address = _address(host, port)
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        app = _ready(create_app(settings, workers=workers))
    except Exception:
        logging.basicConfig()
        log.exception("worker could not start")
        sys.exit(STARTUP_FAILURE)  # as uvicorn exits when the app's start-up fails: restarting will not help
    uvicorn.Server(uvicorn.Config(app, **options)).run(sockets=[sock])


def _supervise(settings: Settings, host: str, port: int, workers: int, options: dict) -> None:
    context = multiprocessing.get_context("spawn")  # no copy of the parent's threads, locks or connections
    logging.basicConfig(level=options["log_level"].upper(), format="%(levelname)s:  %(message)s")
    stopping = failed = False

    def start() -> BaseProcess:
        process = context.Process(target=_worker, args=(settings, host, port, options, workers), daemon=False)
        process.start()
        return process

    def stop(*_) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    running = [start() for _ in range(workers)]
    log.info("huiqi: %d workers on http://%s:%d", workers, host, port)
    try:
        while not stopping:
            wait([p.sentinel for p in running], timeout=0.5)
            for i, process in enumerate(running):
                if process.is_alive() or stopping:
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    log.error("worker %d could not start: stopping", process.pid)
                    stopping = failed = True
                    break
                log.warning("worker %d exited with %s: starting another", process.pid, process.exitcode)
                running[i] = start()
    finally:
        for process in running:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for process in running:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failed:
        raise SystemExit("a worker could not start: see its error above")
