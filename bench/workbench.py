"""Benchmark: the policy workbench's impact over 100,000 profiles, and its live validation as one types.

    .venv/bin/python bench/workbench.py [--enterprises 106000] [--repeat 5] [--keystrokes 50]

Generates ``--enterprises`` synthetic enterprises (106,000 leave about 100,000 profiles) and their profiles
(as ``huiqi profiles`` would), starts the service in process (ASGI, no network), signs an officer in and writes
a draft of a catalogue policy with a changed condition. Then times, server side from the request to the last byte:

- the impact page (``GET /web/drafts/{id}/impact``: both sides decided by the matcher over every profile, the
  charts drawn, example enterprises explained) and the API's ``GET /policy-drafts/{id}/impact``, the first
  call (reads the profiles file) and ``--repeat`` more;
- the live validation (``POST /web/drafts/{id}/live``, what workbench.js sends as one types: the text saved and
  checked as the API checks it) with the largest policy of the catalogue, ``--keystrokes`` times.

Targets (issue 16): impact at most 2 s for 100,000 profiles; live validation at most 200 ms.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient

from api.service import create_app
from api.service.tokens import issue_token
from api.settings import Settings
from features.profiles import build_profiles
from features.profiles.store import ProfileInfo, write_profiles
from features.registries.validate import check_registry
from features.synthetic import generate
from matcher.db import open_database
from policies.load import load_catalogue

AS_OF = date(2025, 6, 30)
CATALOGUE = Path(__file__).resolve().parents[1] / "policies" / "catalogue"
IMPACT_TARGET, LIVE_TARGET = 2.0, 0.2


def _timed(call, times: int) -> list[float]:
    out = []
    for _ in range(times):
        start = time.perf_counter()
        response = call()
        out.append(time.perf_counter() - start)
        assert response.status_code == 200, response.text[:500]
    return out


def _line(name: str, seconds: list[float], target: float) -> str:
    p50 = statistics.median(seconds)
    worst = max(seconds)
    verdict = "ok" if worst <= target else "OVER"
    return f"{name:<40} n={len(seconds):>3}  median {p50 * 1000:8.1f} ms  max {worst * 1000:8.1f} ms  ({verdict})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--enterprises", type=int, default=106_000)  # about 100,000 profiles
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keystrokes", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        started = time.perf_counter()
        generate(data / "registry", enterprises=args.enterprises, seed=7)
        checked = check_registry(data / "registry")
        profiles = build_profiles({t: checked.clean(t) for t in checked.tables}, AS_OF).collect()
        settings = Settings(data_dir=data)
        write_profiles(profiles, settings.profiles_path, ProfileInfo(AS_OF, checked.fingerprint))
        print(f"set-up: {profiles.height:,} profiles in {time.perf_counter() - started:.1f} s")

        engine = open_database(settings.database)
        token = issue_token(engine, role="officer", name="bench officer")[0]
        app = create_app(settings, engine=engine, repository=load_catalogue())
        with TestClient(app) as client:
            page = client.get("/web/sign-in")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            client.post("/web/sign-in", data={"token": token, "csrf": csrf, "next": "/web/policies"})
            csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/web/policies").text).group(1)

            text = (CATALOGUE / "p02-one-off-hiring-subsidy.yaml").read_text("utf-8")
            text = text.replace("version: 1", "version: 2").replace('"youth_hires_12m >= 1"', '"youth_hires_12m >= 2"')
            headers = {"Authorization": f"Bearer {token}", "content-type": "application/yaml"}
            draft = client.post("/policy-drafts", content=text, headers=headers).json()["id"]

            bearer = {"Authorization": f"Bearer {token}"}
            api_first = _timed(lambda: client.get(f"/policy-drafts/{draft}/impact", headers=bearer), 1)
            api_warm = _timed(lambda: client.get(f"/policy-drafts/{draft}/impact", headers=bearer), args.repeat)
            web_warm = _timed(lambda: client.get(f"/web/drafts/{draft}/impact"), args.repeat)

            largest = max(CATALOGUE.glob("*.yaml"), key=lambda p: p.stat().st_size)
            source = largest.read_text("utf-8")
            live = client.post("/policy-drafts", content=source, headers=headers).json()["id"]
            edits = [source.replace("version: 1", f"version: {1 + i % 2}") for i in range(args.keystrokes)]
            keys = iter(edits)
            typing = _timed(
                lambda: client.post(f"/web/drafts/{live}/live", data={"text": next(keys), "csrf": csrf}),
                args.keystrokes,
            )
        print(f"profiles: {profiles.height:,} enterprises; live validation of {largest.name} ({len(source):,} bytes)")
        print(_line("API impact, first (reads the profiles)", api_first, IMPACT_TARGET))
        print(_line("API impact, warm", api_warm, IMPACT_TARGET))
        print(_line("impact page, warm", web_warm, IMPACT_TARGET))
        print(_line("live validation (save + check)", typing, LIVE_TARGET))
        engine.dispose()


if __name__ == "__main__":
    main()
