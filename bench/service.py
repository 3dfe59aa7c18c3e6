"""Benchmark: the enterprise endpoints under concurrent load from a second process.

    .venv/bin/python bench/service.py [--enterprises 100000] [--clients 50] [--seconds 20] [--workers 2]
                                      [--load wrk aiohttp] [--databases sqlite postgresql] [--workdir DIR]
                                      [--endpoints list explanation] [--champion]

Generates registries, runs the matcher into a fresh database (SQLite, and
PostgreSQL in a schema of its own when it answers at --postgresql-url), issues
enterprise tokens for a sample of enterprises, starts the service as
`huiqi serve --workers N --no-access-log` and drives it from a separate
load-generator process (closed loop: each client sends its next request when
the last one answered, over keep-alive connections, to a random enterprise of
the sample with its own token). Prints throughput and p50/p90/p99 latency of
the decision list and the decision explanation side by side, per load
generator: wrk (C; `apt-get install wrk`; skipped when not installed) and an
aiohttp client (Python), which itself takes about half a core of the two.
Target (issue 6) on 2 cores: at least 1,000 requests per second for the
decision list with p99 under 50 ms at 50 concurrent clients. Server and load
generator share the machine's 2 cores.

--champion serves a ranker, so that each explanation carries the champion's
ranking reasons (issue 17: p99 at most 50 ms from the aiohttp client, 100,000
enterprises, 50 clients). The setup then simulates feedback over three as-of
dates (2024-06-30, 2024-12-31, 2025-06-30: matcher runs in the fallback order,
answers from matcher.ranking.simulate), trains the ranker on it with the
project's training code into an MLflow store in the bench's data directory,
and makes that version the champion — by hand when the promotion gate did not
(the bench measures serving, not the model's quality). Each measured decision
belongs to a ranked run; the bench checks that its explanation has reasons.
The same explanations are then measured from a service with an empty model
store beside it (ranker: "no ranker"): what the reasons cost.

CPU is the service's processes' CPU time (user + system, from /proc) over the
load divided by the requests: the database server's share is not in it.
--workdir keeps the prepared data between calls of the same size, PostgreSQL's
in schema bench_service_<size>[_champion] (drop it when done); when the kept
database is gone or no longer knows the kept tokens, it is prepared again.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx
from _databases import DEFAULT_PG, postgresql_schema  # bench/ is on the path: these scripts run from there
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

AS_OF = "2025-06-30"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SAMPLE = 2_000  # enterprises with a token; requests pick among them at random


def _kept_schema(url: str, schema: str) -> str:
    """PostgreSQL's counterpart of --workdir: schema ``schema``, created when missing and kept after the run."""
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    admin.dispose()
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def _still_prepared(root: Path, url: str) -> bool:
    """Whether ``root`` and the database at ``url`` still hold a preparation the service would accept: the targets,
    and their tokens known to the database. A SQLite file deleted, or a kept schema dropped, since the last call
    leaves the targets' tokens to a database that answers every request 401: measuring that would be meaningless."""
    from api.service.tokens import lookup_token

    targets, monitor = root / "targets.json", root / "monitor.token"
    if not targets.exists() or not monitor.exists():
        return False
    if url.startswith("sqlite") and not (root / "huiqi.db").exists():  # connecting would create an empty one
        return False
    engine = create_engine(url)
    try:
        tokens = [json.loads(targets.read_text(encoding="utf-8"))[0]["token"], monitor.read_text(encoding="utf-8")]
        return all(lookup_token(engine, token) is not None for token in tokens)
    except (SQLAlchemyError, ValueError, LookupError):  # no tables (an empty schema), no targets
        return False
    finally:
        engine.dispose()


def _start_afresh(root: Path, url: str) -> None:
    """Empty ``root`` (data directory, SQLite file, model store) and, on PostgreSQL, the schema ``url`` searches:
    a preparation starts from nothing, not over the remains of one that failed or went stale."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    if not url.startswith("sqlite"):
        engine = create_engine(url)
        with engine.begin() as connection:
            schema = connection.execute(text("SELECT current_schema()")).scalar_one()
            if not schema.startswith("bench_"):  # never another schema than the bench's own
                raise SystemExit(f"refusing to empty schema {schema}: expected one of the bench's (bench_…)")
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train_champion(root: Path, engine, registry: Path, day: date) -> str:
    """Feedback simulated over three as-of dates up to ``day``, a ranker trained on it and made the champion of
    the store the service reads (its data directory: ``root``). Returns what happened, to print."""
    from api.ranking import model_store
    from api.settings import Settings
    from matcher.ranking.simulate import as_of_dates, simulate
    from matcher.ranking.train import train
    from policies.load import load_catalogue

    simulate(engine, registry, as_of_dates(date(2024, 6, 1), day, 6), load_catalogue().in_force, seed=7)
    store = model_store(Settings(data_dir=root))
    report = train(engine, store, holdout_share=0.3, seed=0)
    if not report.promoted:
        store.promote(report.version)
    how = "promoted by the gate" if report.promoted else "promoted by the bench (the gate did not)"
    return f"champion: version {report.version}, trained on {report.train_pairs:,} pairs, {how}"


def _prepare(root: Path, enterprises: int, url: str, champion: bool = False) -> list[dict]:
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
    if champion:  # its last simulated run is the run as of AS_OF
        (root / "champion.txt").write_text(_train_champion(root, engine, registry, day), encoding="utf-8")
    else:
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
    # The scraper's token: /metrics is read before and after each load (api/service/metrics.py).
    (root / "monitor.token").write_text(issue_token(engine, role="monitor", name="bench scraper")[0], encoding="utf-8")
    engine.dispose()
    return targets


def _serve(url: str, port: int, workers: int, data_dir: Path, extra: dict[str, str]) -> subprocess.Popen:
    env = os.environ | {"HUIQI_DATABASE_URL": url, "HUIQI_DATA_DIR": str(data_dir)} | extra
    command = [sys.executable, "-c", "from api.cli import main; main()", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers), "--no-access-log"]
    # HUIQI_BENCH_SERVER_LOG=FILE keeps the server's errors (a non-2xx answer is explained there).
    log = open(os.environ.get("HUIQI_BENCH_SERVER_LOG", os.devnull), "w")  # noqa: SIM115 - lives with the server
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    # Two workers start in about 40 s on a busy 2-core machine, in minutes when other jobs load it (load average 30).
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit("the service did not answer within 600 s")


def _cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` and its descendants (the uvicorn workers), as
    /proc says; 0 where there is no /proc."""
    total, todo = 0.0, [pid]
    while todo:
        at = Path(f"/proc/{todo.pop()}")
        try:
            fields = (at / "stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            todo += [int(c) for task in (at / "task").iterdir() for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not Linux
    return total


def _load(load: str, base: str, targets: Path, endpoint: str, clients: int, seconds: float, server: int) -> dict:
    if load == "wrk":
        script = _wrk_script(targets, endpoint)
        subprocess.run(["wrk", "-t1", f"-c{clients}", "-d2s", "-s", script, base], check=True, capture_output=True)
        command = ["wrk", "-t1", f"-c{clients}", f"-d{seconds:.0f}s", "-s", script, base]
    else:
        client = [sys.executable, str(HERE / "_load.py"), base, str(targets), endpoint, str(clients)]
        subprocess.run([*client, "0.2", "2"], check=True, capture_output=True, cwd=ROOT)  # warm-up: not measured
        command = [*client, str(seconds), "0"]
    token = (targets.parent / "monitor.token").read_text(encoding="utf-8")
    before = _scrape(base, token, ROUTES[endpoint])  # after wrk's warm-up: the metrics see only the measured load
    cpu = _cpu_seconds(server)
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    cpu = _cpu_seconds(server) - cpu  # includes the two /metrics scrapes' share: negligible against the load
    after = _scrape(base, token, ROUTES[endpoint])
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return out | {"load": load, "metrics": _difference(before, after), "cpu_ms": cpu / max(out["requests"], 1) * 1000}


ROUTES = {"list": "/enterprises/{uscc}/decisions", "explanation": "/enterprises/{uscc}/decisions/{decision_id}"}


def _scrape(base: str, token: str, route: str) -> dict[str, float]:
    """The route's request count, latency sum and cumulative histogram buckets, as /metrics says (summed over the
    workers: multiprocess mode)."""
    text = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if f'route="{route}"' not in line or line.startswith("#"):
            continue
        name, value = line.rsplit(" ", 1)
        if name.startswith("huiqi_http_requests_total"):
            out["requests"] = out.get("requests", 0.0) + float(value)
        elif name.startswith("huiqi_http_request_duration_seconds_sum"):
            out["seconds"] = out.get("seconds", 0.0) + float(value)
        elif name.startswith("huiqi_http_request_duration_seconds_bucket"):
            le = name.split('le="', 1)[1].split('"', 1)[0]
            out[f"le:{le}"] = out.get(f"le:{le}", 0.0) + float(value)
    return out


def _difference(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """What the metrics counted during the load: requests, mean and (bucket-interpolated) p50/p90/p99 in ms."""
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    requests = delta.get("requests", 0.0)
    buckets = sorted(
        ((float(k[3:]), v) for k, v in delta.items() if k.startswith("le:") and k != "le:+Inf"), key=lambda b: b[0]
    )
    count = delta.get("le:+Inf", requests)

    def quantile(q: float) -> float:  # as PromQL's histogram_quantile: linear within the bucket
        rank, lower, below = q * count, 0.0, 0.0
        for upper, cumulative in buckets:
            if cumulative >= rank:
                share = (rank - below) / (cumulative - below) if cumulative > below else 0.0
                return (lower + (upper - lower) * share) * 1000
            lower, below = upper, cumulative
        return lower * 1000

    mean = delta.get("seconds", 0.0) / requests * 1000 if requests else 0.0
    return {
        "requests": requests,
        "mean_ms": mean,
        "p50_ms": quantile(0.5),
        "p90_ms": quantile(0.9),
        "p99_ms": quantile(0.99),
    }


# wrk picks a random enterprise of the sample per request and prints the same JSON line as _load.py.
_WRK_LUA = r"""
local targets = {}
for line in io.lines("%(targets)s") do
  local token, uscc, decision = line:match("([^\t]+)\t([^\t]+)\t([^\t]+)")
  targets[#targets + 1] = {token, uscc, decision}
end
math.randomseed(1)
request = function()
  local t = targets[math.random(#targets)]
  local path = "/enterprises/" .. t[2] .. "/decisions"
  if "%(endpoint)s" == "explanation" then path = path .. "/" .. t[3] end
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. t[1]})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"endpoint": "%(endpoint)s", "requests": %%d, "failures": %%d, "seconds": %%f, '
    .. '"p50_ms": %%f, "p90_ms": %%f, "p99_ms": %%f}\n',
    summary.requests, e.status + e.connect + e.read + e.write + e.timeout, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000))
end
"""


def _wrk_script(targets: Path, endpoint: str) -> str:
    rows = json.loads(targets.read_text(encoding="utf-8"))
    tsv = targets.with_suffix(".tsv")
    tsv.write_text("".join(f"{t['token']}\t{t['uscc']}\t{t['decision_id']}\n" for t in rows), encoding="utf-8")
    script = targets.with_name(f"wrk-{endpoint}.lua")
    script.write_text(_WRK_LUA % {"targets": tsv, "endpoint": endpoint}, encoding="utf-8")
    return str(script)


def _check_reasons(console: Console, base: str, targets_file: Path, champion: bool) -> None:
    """Explanations as the load will see them: with the champion's ranking reasons when one is served. Asked over
    fresh connections, so that every worker answers some (the kernel spreads them): each loads the champion on its
    first explanation (MLflow, the booster: seconds), which the measured load must not include."""
    target = json.loads(targets_file.read_text(encoding="utf-8"))[0]
    path = f"{base}/enterprises/{target['uscc']}/decisions/{target['decision_id']}"
    for _ in range(8):
        answer = httpx.get(path, headers={"Authorization": f"Bearer {target['token']}"}, timeout=180)
        answer.raise_for_status()
        explanation = answer.json()["explanation"]
        if champion and not explanation["ranking_reasons"]:
            raise SystemExit(f"--champion: the explanation has no ranking reasons: {explanation['ranking_note']}")
    reasons = explanation["ranking_reasons"]
    console.print(
        f"explanation of decision {target['decision_id']}: "
        + (f"{len(reasons)} ranking reasons, first: {reasons[0]['en']}" if reasons else "no ranking reasons")
    )


def _measure(console: Console, args, loads: list[str], database: str, root: Path, url: str) -> list[dict]:
    targets_file = root / "targets.json"
    if not _still_prepared(root, url):
        if targets_file.exists():
            console.print(f"{database}: the kept data's tokens no longer authenticate (database gone?): rebuilding")
        _start_afresh(root, url)
        what = "generate, simulate feedback, train a champion, tokens" if args.champion else "generate, run, tokens"
        console.print(f"{database}: preparing {args.enterprises:,} enterprises ({what}) …")
        targets_file.write_text(json.dumps(_prepare(root, args.enterprises, url, args.champion)), encoding="utf-8")
    if args.champion:
        console.print(f"{database}: " + (root / "champion.txt").read_text(encoding="utf-8"))
    results = _served(args, loads, database, root, url, targets_file, args.endpoints, args.champion, console)
    if args.champion and "explanation" in args.endpoints:  # beside it: the same explanations with no ranker served
        results += _served(args, loads, database, root, url, targets_file, ["explanation"], False)
    return results


def _served(
    args, loads, database: str, root: Path, url: str, targets: Path, endpoints, champion: bool, console=None
) -> list[dict]:
    """The load on each endpoint from each load generator, against a service started for it: with the champion
    the data directory's model store holds (``champion``), or with an empty model store (no ranker)."""
    port = _free_port()
    empty = {} if champion else {"HUIQI_MLFLOW_URI": f"sqlite:///{(root / 'no-model' / 'mlflow.db').resolve()}"}
    (root / "no-model").mkdir(exist_ok=True)
    server = _serve(url, port, args.workers, root, empty)
    try:
        base = f"http://127.0.0.1:{port}"
        if console is not None and "explanation" in endpoints:
            _check_reasons(console, base, targets, champion)
        served = "champion" if args.champion and champion else "no ranker"
        return [
            _load(load, base, targets, endpoint, args.clients, args.seconds, server.pid)
            | {"database": database, "served": served}
            for load in loads
            for endpoint in endpoints
        ]
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enterprises", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2, help="service worker processes (huiqi serve --workers)")
    parser.add_argument(
        "--load", nargs="+", choices=("wrk", "aiohttp"), default=["wrk", "aiohttp"], help="load generators to use"
    )
    parser.add_argument("--databases", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"])
    parser.add_argument("--postgresql-url", default=DEFAULT_PG)
    parser.add_argument(
        "--endpoints", nargs="+", choices=("list", "explanation"), default=["list", "explanation"], help="what to load"
    )
    parser.add_argument(
        "--champion",
        action="store_true",
        help="serve a champion ranker (trained in the setup): explanations carry its ranking reasons",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the prepared data here (and PostgreSQL's in schema bench_service_<size>[_champion]) and reuse it"
        " on the next call of the same size; drop that schema when done",
    )
    args = parser.parse_args()
    console = Console(width=150)
    loads = [load for load in args.load if load != "wrk" or shutil.which("wrk")]
    if len(loads) < len(args.load):
        console.print("wrk is not installed (apt-get install wrk): only the aiohttp client drives the load")
    results = []
    load_before = f"{os.getloadavg()[0]:.1f}"
    for database in args.databases:
        with tempfile.TemporaryDirectory(prefix="huiqi-bench-service-") as tmp:
            prepared = f"{args.enterprises}-champion" if args.champion else str(args.enterprises)
            root = (args.workdir or Path(tmp)) / (prepared if database == "sqlite" else f"{prepared}-{database}")
            root.mkdir(parents=True, exist_ok=True)
            cleanup = None
            if database == "sqlite":
                url = f"sqlite:///{root / 'huiqi.db'}"
            else:
                try:
                    if args.workdir:
                        url = _kept_schema(args.postgresql_url, f"bench_service_{prepared.replace('-', '_')}")
                    else:
                        url, cleanup = postgresql_schema(args.postgresql_url)
                except OperationalError as exc:
                    console.print(f"PostgreSQL does not answer at {args.postgresql_url}: skipped ({exc.orig})")
                    continue
            try:
                results += _measure(console, args, loads, database, root, url)
            finally:
                if cleanup:
                    cleanup()

    table = Table(title=f"{args.enterprises:,} enterprises, {args.clients} clients, {args.workers} worker(s), 2 cores")
    columns = ("endpoint", "ranker", "database", "load from", "requests/s", "p50", "p90", "p99", "requests")
    for col in (*columns, "non-2xx", "CPU"):
        table.add_column(col, justify="left" if col in ("endpoint", "ranker", "database", "load from") else "right")
    names = {"list": "GET /enterprises/{uscc}/decisions", "explanation": "GET /enterprises/{uscc}/decisions/{id}"}
    for r in results:
        table.add_row(
            names[r["endpoint"]],
            r["served"],
            r["database"],
            r["load"],
            f"{r['requests'] / r['seconds']:,.0f}",
            f"{r['p50_ms']:.1f} ms",
            f"{r['p90_ms']:.1f} ms",
            f"{r['p99_ms']:.1f} ms",
            f"{r['requests']:,}",
            f"{r['failures']:,}",
            f"{r['cpu_ms']:.1f} ms",
        )
    console.print(table)
    console.print(
        f"CPU: the service's processes' CPU time per request (not the database server's); load average before the"
        f" runs {load_before}, after {os.getloadavg()[0]:.1f}."
    )
    side = Table(title="what the load generator measured | what /metrics counted over the same load")
    for col in ("endpoint", "ranker", "database", "load from", "requests", "p50", "p90", "p99"):
        side.add_column(col, justify="left" if col in ("endpoint", "ranker", "database", "load from") else "right")
    for r in results:
        m = r["metrics"]
        side.add_row(
            names[r["endpoint"]],
            r["served"],
            r["database"],
            r["load"],
            f"{r['requests']:,} | {m['requests']:,.0f}",
            f"{r['p50_ms']:.1f} | {m['p50_ms']:.1f} ms",
            f"{r['p90_ms']:.1f} | {m['p90_ms']:.1f} ms",
            f"{r['p99_ms']:.1f} | {m['p99_ms']:.1f} ms",
        )
    console.print(side)
    console.print(
        "The metrics time a request inside the server (no network, no client queueing) and estimate quantiles from"
        " histogram buckets (linear within a bucket); the counts differ by the requests in flight at either end."
    )
    for listing in (r for r in results if r["endpoint"] == "list"):
        rps = listing["requests"] / listing["seconds"]
        ok = rps >= 1000 and listing["p99_ms"] < 50 and listing["failures"] == 0
        console.print(
            f"decision list, {listing['database']}, load from {listing['load']}: {rps:,.0f} requests/s,"
            f" p99 {listing['p99_ms']:.1f} ms"
            f" at {args.clients} clients — {'meets' if ok else 'MISSES'} the 1,000 requests/s, p99 < 50 ms target"
        )
    for explained in (r for r in results if r["served"] == "champion" and r["endpoint"] == "explanation"):
        ok = explained["p99_ms"] <= 50 and explained["failures"] == 0
        console.print(
            f"explanation with the champion's reasons, {explained['database']}, load from {explained['load']}:"
            f" p99 {explained['p99_ms']:.1f} ms at {args.clients} clients — {'meets' if ok else 'MISSES'} the"
            " p99 ≤ 50 ms target"
        )


if __name__ == "__main__":
    main()
