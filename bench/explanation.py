"""Benchmark: what one decision explanation costs inside the service, with the champion's ranking reasons and without.

    .venv/bin/python bench/explanation.py --workdir DIR [--requests 4000]

DIR is what `bench/service.py --champion --workdir DIR` prepared (its `<size>-champion` folder: the SQLite
database, the model store with a champion, an empty model store beside it, and the 2,000 enterprises' tokens).
Each of the two services is built in this process (`create_app`), warmed with every target once (the pairs'
stored features decoded, the catalogue compiled), and then asked ``--requests`` explanations of random targets
through its whole ASGI stack — middleware, authentication, the route, the JSON — with no HTTP and no other
process: the CPU a request takes in the server, apart from the network and the queue that decide the latency
bench/service.py measures. With the champion, the reasons' parts are timed too, in the same flow (each call's
median): the pair's stored features (`read_pair`), LightGBM's contributions and their words (`_explained`), and
the rest of the explanation (`explain`: the tracer's conditions and facts).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

WARM = 1  # rounds over every target before measuring


def _request(path: str, token: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def _ask(app, target: dict[str, Any]) -> int:
    path = f"/enterprises/{target['uscc']}/decisions/{target['decision_id']}"
    started: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.append(message["status"])

    await app(_request(path, target["token"]), receive, send)
    return started[0]


def _timed(parts: dict[str, list[float]], module: Any, name: str) -> Callable[[], None]:
    """Record each call's seconds of ``module.name`` under ``name``; returns what puts it back."""
    original = getattr(module, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            parts[name].append(time.perf_counter() - started)

    setattr(module, name, timed)
    return lambda: setattr(module, name, original)


def measure(root: Path, champion: bool, requests: int, seed: int) -> dict[str, Any]:
    """One service's explanations: µs a request (wall, CPU) and, with the champion, each part's median µs."""
    os.environ["HUIQI_DATA_DIR"] = str(root)
    os.environ["HUIQI_DATABASE_URL"] = f"sqlite:///{(root / 'huiqi.db').resolve()}"
    if champion:
        os.environ.pop("HUIQI_MLFLOW_URI", None)
    else:
        (root / "no-model").mkdir(exist_ok=True)
        os.environ["HUIQI_MLFLOW_URI"] = f"sqlite:///{(root / 'no-model' / 'mlflow.db').resolve()}"
    os.environ["HUIQI_ACCESS_LOG"] = "off"
    import api.service.routes.enterprises as route
    import matcher.ranking.explain as reasons
    from api.service import create_app
    from api.settings import Settings
    from matcher.ranking.parts import _CACHE

    _CACHE.clear()  # each service decodes its own pieces, as a fresh worker does
    app = create_app(Settings(), workers=1)
    state = app.state.service
    state.catalogue.load(state.engine)
    state.ranker.champion()  # read the store now, as the first request would
    gc.freeze()  # as the service does after start-up (api/service/app.py)
    targets = json.loads((root / "targets.json").read_text(encoding="utf-8"))
    picks = random.Random(seed).choices(targets, k=requests)
    parts: dict[str, list[float]] = defaultdict(list)

    async def run() -> tuple[float, float]:
        for _ in range(WARM):
            for target in targets:
                status = await _ask(app, target)
                if status != 200:
                    raise SystemExit(f"an explanation answered {status}: is {root} a bench/service.py preparation?")
        restore = [
            _timed(parts, reasons, "read_pair"),
            _timed(parts, reasons, "_explained"),
            _timed(parts, route, "explain"),
        ]
        try:
            wall, cpu = time.perf_counter(), time.process_time()
            for target in picks:
                await _ask(app, target)
            return time.perf_counter() - wall, time.process_time() - cpu
        finally:
            for undo in restore:
                undo()

    wall, cpu = asyncio.run(run())
    has_model = state.ranker.champion() is not None
    state.reads.close()
    state.engine.dispose()
    return {
        "wall_us": wall / requests * 1e6,
        "cpu_us": cpu / requests * 1e6,
        "has_model": has_model,
        "parts_us": {name: statistics.median(seconds) * 1e6 for name, seconds in parts.items() if seconds},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True, help="bench/service.py's --workdir")
    parser.add_argument("--enterprises", type=int, default=100_000, help="the size it was prepared at")
    parser.add_argument("--requests", type=int, default=4_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    root = args.workdir / f"{args.enterprises}-champion"
    if not (root / "targets.json").exists():
        raise SystemExit(
            f"nothing prepared at {root}: run bench/service.py --enterprises {args.enterprises} --champion "
            f"--endpoints explanation --workdir {args.workdir} first"
        )
    found = {"champion": measure(root, True, args.requests, args.seed)}
    found["no ranker"] = measure(root, False, args.requests, args.seed)
    if not found["champion"]["has_model"] or found["no ranker"]["has_model"]:
        raise SystemExit("expected a champion in the prepared model store and none in the empty one beside it")
    table = Table(title=f"one explanation in process ({args.requests:,} requests, {args.enterprises:,} enterprises)")
    table.add_column("")
    for name in found:
        table.add_column(name, justify="right")
    table.add_row("wall µs a request", *(f"{f['wall_us']:,.0f}" for f in found.values()))
    table.add_row("CPU µs a request", *(f"{f['cpu_us']:,.0f}" for f in found.values()))
    labels = {
        "read_pair": "the pair's stored features (median µs)",
        "_explained": "contributions and their words (median µs)",
        "explain": "the conditions and facts (median µs)",
    }
    for name, label in labels.items():
        table.add_row(label, *(f"{f['parts_us'][name]:,.0f}" if name in f["parts_us"] else "–" for f in found.values()))
    console = Console()
    console.print(table)
    extra = found["champion"]["cpu_us"] - found["no ranker"]["cpu_us"]
    console.print(
        f"the champion's reasons add {extra:,.0f} µs of CPU to a request ({extra / found['no ranker']['cpu_us']:+.0%})"
    )


if __name__ == "__main__":
    main()
