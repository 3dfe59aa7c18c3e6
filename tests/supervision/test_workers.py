"""`huiqi serve --workers 2`: whichever worker answers a scrape, /metrics counts every worker's requests
(prometheus multiprocess mode); the access log is one JSON line per request."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import httpx
import pytest

from api.service.tokens import issue_token
from matcher.db import make_engine, upgrade
from tests.api.test_serve import ROOT, _answering, _free_port, _wait

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="needs SO_REUSEPORT")
REQUESTS = 40


def _counted(base: str, token: str) -> float:
    # A fresh connection each time: the kernel hands it to either worker.
    text = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"}).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("huiqi_http_requests_total{") and 'route="/statistics"' in line
    )


@pytest.mark.slow  # a real two-worker server, started and stopped
def test_metrics_when_two_workers_serve_count_every_request_whichever_worker_is_scraped(tmp_path):
    url = f"sqlite:///{tmp_path / 'huiqi.db'}"
    engine = make_engine(url)
    upgrade(engine)
    token = issue_token(engine, role="monitor", name="prometheus")[0]
    engine.dispose()
    port = _free_port()
    env = os.environ | {"HUIQI_DATA_DIR": str(tmp_path), "HUIQI_DATABASE_URL": url}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [sys.executable, "-c", "from api.cli import main; main()", "serve", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _answering(server, base), "the service", seconds=180)
        for _ in range(REQUESTS):
            assert httpx.get(f"{base}/statistics", headers={"X-Request-ID": "count-me"}).status_code == 200
        assert [_counted(base, token) for _ in range(8)] == [REQUESTS] * 8
        assert any((tmp_path / "metrics").glob("*.db"))  # each worker's own files
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=60)
    lines = [json.loads(x) for x in stderr.decode().splitlines() if x.startswith("{")]
    served = [x for x in lines if x.get("route") == "/statistics"]
    assert len(served) == REQUESTS and {x["request_id"] for x in served} == {"count-me"}
