"""Benchmark: the enterprise endpoints under concurrent load from a second process.

    .venv/bin/python bench/service.py [--enterprises 100000] [--clients 50] [--seconds 20] [--workers 1]

Generates registries, runs the matcher into a fresh SQLite database, issues
enterprise tokens for a sample of enterprises, starts the service (uvicorn,
``--workers`` processes) and drives it from a separate load-generator process
(closed loop: each client sends its next request when the last one answered).
Prints throughput and p50/p90/p99 latency of the decision list and the
decision explanation side by side. Target (issue 6) on 2 cores: at least 1,000
requests per second for the decision list with p99 under 50 ms at 50
concurrent clients. Server and load generator share the machine's 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

AS_OF = "2025-06-30"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SAMPLE = 2_000  # enterprises with a token; requests pick among them at random


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(root: Path, enterprises: int, url: str) -> list[dict]:
    from api.service.tokens import issue_token
    from matcher.db import make_engine, upgrade
    from matcher.db.models import decisions
    from matcher.run import run_matching
    from policies.load import load_catalogue

    registry = root / "registry"
    subprocess.run(
        [sys.executable, str(HERE / "_stage.py"), "generate", str(registry), str(enterprises), AS_OF],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    engine = make_engine(url)
    upgrade(engine)
    day = date.fromisoformat(AS_OF)
    run_matching(engine, registry, day, load_catalogue().in_force(day))
    with engine.connect() as connection:
        rows = connection.execute(select(decisions.c.uscc, decisions.c.id)).all()
    by_uscc: dict[str, int] = {}
    for uscc, decision_id in rows:
        by_uscc.setdefault(uscc, decision_id)
    sample = random.Random(1).sample(sorted(by_uscc), min(SAMPLE, len(by_uscc)))
    targets = []
    for uscc in sample:
        token, _ = issue_token(engine, role="enterprise", uscc=uscc, name=f"bench {uscc}")
        targets.append({"token": token, "uscc": uscc, "decision_id": by_uscc[uscc]})
    engine.dispose()
    return targets


def _serve(url: str, port: int, workers: int, data_dir: Path) -> subprocess.Popen:
    env = os.environ | {"HUIQI_DATABASE_URL": url, "HUIQI_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "uvicorn", "api.service:create_app", "--factory", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit("the service did not answer within 60 s")


def _load(base: str, targets: Path, endpoint: str, clients: int, seconds: float) -> dict:
    command = [sys.executable, str(HERE / "_load.py"), base, str(targets), endpoint, str(clients), str(seconds)]
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enterprises", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    console = Console(width=150)
    with tempfile.TemporaryDirectory(prefix="huiqi-bench-service-") as tmp:
        root = Path(tmp)
        url = f"sqlite:///{root / 'huiqi.db'}"
        console.print(f"preparing {args.enterprises:,} enterprises (generate, run, tokens) …")
        targets = _prepare(root, args.enterprises, url)
        targets_file = root / "targets.json"
        targets_file.write_text(json.dumps(targets), encoding="utf-8")
        port = _free_port()
        server = _serve(url, port, args.workers, root)
        try:
            results = [
                _load(f"http://127.0.0.1:{port}", targets_file, endpoint, args.clients, args.seconds)
                for endpoint in ("list", "explanation")
            ]
        finally:
            server.terminate()
            server.wait(timeout=30)

    table = Table(title=f"{args.enterprises:,} enterprises, {args.clients} clients, {args.workers} worker(s), 2 cores")
    for col in ("endpoint", "requests/s", "p50", "p90", "p99", "requests", "non-2xx"):
        table.add_column(col, justify="left" if col == "endpoint" else "right")
    names = {"list": "GET /enterprises/{uscc}/decisions", "explanation": "GET /enterprises/{uscc}/decisions/{id}"}
    for r in results:
        table.add_row(
            names[r["endpoint"]],
            f"{r['requests'] / r['seconds']:,.0f}",
            f"{r['p50_ms']:.1f} ms",
            f"{r['p90_ms']:.1f} ms",
            f"{r['p99_ms']:.1f} ms",
            f"{r['requests']:,}",
            f"{r['failures']:,}",
        )
    console.print(table)
    listing = results[0]
    rps = listing["requests"] / listing["seconds"]
    verdict = "meets" if rps >= 1000 and listing["p99_ms"] < 50 and listing["failures"] == 0 else "MISSES"
    console.print(
        f"decision list: {rps:,.0f} requests/s, p99 {listing['p99_ms']:.1f} ms at {args.clients} clients"
        f" — {verdict} the 1,000 requests/s, p99 < 50 ms target"
    )


if __name__ == "__main__":
    main()
