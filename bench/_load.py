"""Load generator, in its own process: many concurrent clients against one endpoint.

    python bench/_load.py BASE_URL TARGETS_JSON ENDPOINT CLIENTS SECONDS

TARGETS_JSON: a list of {"token", "uscc", "decision_id"}. ENDPOINT: "list"
(GET /enterprises/{uscc}/decisions) or "explanation" (GET
/enterprises/{uscc}/decisions/{id}). Each client sends its next request as
soon as the last one answered (closed loop), over keep-alive connections.
Prints one JSON line: requests, non-2xx answers, seconds, p50/p90/p99 latency.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from pathlib import Path

import aiohttp
import numpy as np
import uvloop


def _path(endpoint: str, target: dict) -> str:
    if endpoint == "list":
        return f"/enterprises/{target['uscc']}/decisions"
    return f"/enterprises/{target['uscc']}/decisions/{target['decision_id']}"


async def _client(session, base, targets, endpoint, until, latencies, failures, seed) -> None:
    rng = random.Random(seed)
    while time.perf_counter() < until:
        target = rng.choice(targets)
        started = time.perf_counter()
        async with session.get(
            base + _path(endpoint, target), headers={"Authorization": f"Bearer {target['token']}"}
        ) as response:
            await response.read()
            if response.status >= 300:
                failures.append(response.status)
        latencies.append(time.perf_counter() - started)


async def main(base: str, targets_file: str, endpoint: str, clients: int, seconds: float, warmup: float = 2) -> None:
    targets = json.loads(Path(targets_file).read_text(encoding="utf-8"))
    latencies: list[float] = []
    failures: list[int] = []
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        # Warm-up: open the connections and the server's caches; not measured.
        warm_until = time.perf_counter() + warmup
        await asyncio.gather(
            *(_client(session, base, targets, endpoint, warm_until, [], [], -i) for i in range(clients))
        )
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(
            *(_client(session, base, targets, endpoint, until, latencies, failures, i) for i in range(clients))
        )
        elapsed = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    print(
        json.dumps(
            {
                "endpoint": endpoint,
                "requests": len(latencies),
                "failures": len(failures),
                "failure_statuses": sorted(set(failures)),
                "seconds": elapsed,
                "p50_ms": float(np.percentile(ms, 50)),
                "p90_ms": float(np.percentile(ms, 90)),
                "p99_ms": float(np.percentile(ms, 99)),
            }
        )
    )


if __name__ == "__main__":
    # uvloop (installed with uvicorn[standard]): the client then takes less of the cores it shares with the server.
    warmup = float(sys.argv[6]) if len(sys.argv) > 6 else 2.0  # bench/service.py warms up first, then scrapes
    uvloop.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), warmup))
