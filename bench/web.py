"""Benchmark: the enterprise's inbox page with 200 notices, server time per render.

    .venv/bin/python bench/web.py [--notices 200] [--repeat 50]

Generates a small registry, runs the matcher into a fresh SQLite database, then gives one enterprise
``--notices`` notices (other enterprises' notices moved to it, each to a period of its own, so every one is
a separate entry), signs in with its link and renders its inbox ``--repeat`` times in process (ASGI, no
network): the time is the server's, from the request to the last byte of the page. Target (issue 15): at
most 100 ms per render at 200 notices.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from api.service import create_app
from api.settings import Settings
from api.web.links import link_url
from features.registries.validate import check_registry
from features.synthetic import generate
from matcher.db import open_database
from matcher.db.models import notices
from matcher.run import run_matching
from policies.load import load_catalogue

AS_OF = date(2025, 6, 30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notices", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--enterprises", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        generate(data / "registry", enterprises=args.enterprises, seed=3)
        settings = Settings(data_dir=data)
        engine = open_database(settings.database)
        repository = load_catalogue()
        run_matching(engine, check_registry(data / "registry"), AS_OF, repository.in_force(AS_OF))
        with engine.begin() as connection:
            ids = connection.execute(select(notices.c.id).order_by(notices.c.id).limit(args.notices)).scalars().all()
            uscc = connection.execute(select(notices.c.uscc).where(notices.c.id == ids[0])).scalar_one()
            for i, notice_id in enumerate(ids):
                connection.execute(
                    update(notices).where(notices.c.id == notice_id).values(uscc=uscc, period_key=str(1000 + i))
                )
        app = create_app(settings, engine=engine, repository=repository)
        with TestClient(app) as client:
            client.get(link_url(settings, uscc).removeprefix(settings.public_url))
            page = client.get(f"/web/e/{uscc}")
            assert page.status_code == 200 and page.text.count("/notices/") >= args.notices, page.text[:500]
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                client.get(f"/web/e/{uscc}")
                times.append((time.perf_counter() - start) * 1000)
        times.sort()
        p90 = times[int(len(times) * 0.9) - 1]
        print(
            f"inbox page, {len(ids)} notices, {args.repeat} renders: median {statistics.median(times):.1f} ms, "
            f"p90 {p90:.1f} ms, max {times[-1]:.1f} ms (target ≤ 100 ms); page {len(page.content) / 1024:.0f} KiB"
        )
        app.state.service.runner.shutdown()
        app.state.service.trainer.shutdown()


if __name__ == "__main__":
    main()
