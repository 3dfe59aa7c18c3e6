"""`huiqi serve --workers 2`: both workers take connections, a dead worker is replaced, SIGTERM stops all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc to see which worker holds what")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check, what: str, seconds: float = 90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            found = check()
        except (httpx.HTTPError, OSError):
            found = None
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _workers(server_pid: int) -> list[int]:
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    return [int(p) for p in children if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]


LISTEN, ESTABLISHED = "0A", "01"


def _sockets(pid: int, port: int, state: str, peers: set[int] | None = None) -> int:
    """TCP sockets on local ``port`` in ``state`` that ``pid`` holds (with ``peers``: only those whose other end is
    one of these ports)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    held = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port, inode = int(fields[1].rsplit(":", 1)[1], 16), fields[9]
            peer = int(fields[2].rsplit(":", 1)[1], 16)
            held += local_port == port and fields[3] == state and inode in inodes and (peers is None or peer in peers)
    return held


def _answering(server: subprocess.Popen, base: str) -> bool:
    if server.poll() is not None:  # it gave up: say why, at once
        raise AssertionError(f"huiqi serve exited with {server.returncode}: {server.stderr.read().decode()[-2000:]}")
    return httpx.get(f"{base}/health").status_code == 200


@pytest.mark.slow  # real server processes, started and stopped
def test_serve_when_given_two_workers_spreads_connections_replaces_a_dead_worker_and_stops_on_sigterm(tmp_path):
    port = _free_port()
    env = os.environ | {"HUIQI_DATA_DIR": str(tmp_path), "HUIQI_DATABASE_URL": f"sqlite:///{tmp_path / 'huiqi.db'}"}
    command = [sys.executable, "-c", "from api.cli import main; main()", "serve", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: len(_workers(server.pid)) == 2, "two workers")
        workers = _workers(server.pid)
        _wait(lambda: all(_sockets(pid, port, LISTEN) == 1 for pid in workers), "each worker's own socket")
        _wait(lambda: httpx.get(f"{base}/health").status_code == 200, "the service to answer")
        assert "server" not in httpx.get(f"{base}/health").headers  # uvicorn is not announced

        # 40 keep-alive connections, as a load balancer's pool opens them: the kernel spreads them.
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        for c in clients:
            c.sendall(b"GET /health HTTP/1.1\r\nHost: huiqi\r\n\r\n")
            assert c.recv(4096).startswith(b"HTTP/1.1 200")
        # Only these 40: the server's end of an earlier request's connection may not have seen its close yet.
        ours = {c.getsockname()[1] for c in clients}
        held = [_sockets(pid, port, ESTABLISHED, ours) for pid in workers]
        assert sum(held) == 40 and min(held) >= 8, held  # shared-socket uvicorn workers: e.g. [38, 2]
        for c in clients:
            c.close()

        os.kill(workers[0], signal.SIGKILL)

        def replaced_workers():
            now = _workers(server.pid)
            return now if len(now) == 2 and workers[0] not in now else None

        replaced = _wait(replaced_workers, "a new worker in place of the dead one")
        _wait(lambda: httpx.get(f"{base}/health").status_code == 200, "the service after the restart")

        idle = socket.create_connection(("127.0.0.1", port))  # a keep-alive connection the server closes first
        idle.sendall(b"GET /health HTTP/1.1\r\nHost: huiqi\r\n\r\n")
        assert idle.recv(4096).startswith(b"HTTP/1.1 200")
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
        assert not any(Path(f"/proc/{pid}").exists() for pid in replaced)
        while idle.recv(4096):  # read to the server's end, then close: the server's side stays in TIME_WAIT
            pass
        idle.close()

        # Started again at once, on the port whose connections still linger in TIME_WAIT.
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _wait(lambda: _answering(server, base), "the service started again")
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)


def test_serve_when_the_port_is_taken_says_so_and_starts_no_worker(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = os.environ | {"HUIQI_DATA_DIR": str(tmp_path)}
        done = subprocess.run(
            [sys.executable, "-c", "from api.cli import main; main()", "serve", "--port", str(port), "--workers", "2"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr + done.stdout
    assert "choose another --port" in done.stderr + done.stdout


def test_serve_when_the_database_cannot_be_opened_says_which_and_hides_its_password(tmp_path):
    env = os.environ | {
        "HUIQI_DATA_DIR": str(tmp_path),
        "HUIQI_DATABASE_URL": "postgresql+psycopg://x:secret@127.0.0.1:1/x",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from api.cli import main; main()",
            "serve",
            "--port",
            str(_free_port()),
            "--workers",
            "2",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 2
    assert "cannot open the database postgresql+psycopg://x:***@127.0.0.1:1/x" in out
    assert "check HUIQI_DATABASE_URL" in out and "secret" not in out and "Traceback" not in out


def _status(connection: socket.socket) -> bytes:
    """The status line of the answer on ``connection``."""
    return connection.makefile("rb").readline().rstrip()


def _rss(pid: int) -> int:
    """Resident memory of ``pid``, in bytes."""
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


@pytest.mark.slow  # real server processes, started and stopped
def test_serve_when_sent_huge_bodies_without_a_token_refuses_them_unread_and_names_no_server(tmp_path):
    port = _free_port()
    env = os.environ | {"HUIQI_DATA_DIR": str(tmp_path), "HUIQI_DATABASE_URL": f"sqlite:///{tmp_path / 'huiqi.db'}"}
    command = [sys.executable, "-c", "from api.cli import main; main()", "serve", "--port", str(port)]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _answering(server, base), "the service to answer")
        health = httpx.get(f"{base}/health")
        assert "server" not in health.headers  # uvicorn is not announced
        assert health.headers["x-content-type-options"] == "nosniff"

        # 100 MB declared, no token: 413 before the client sends a byte of it.
        with socket.create_connection(("127.0.0.1", port)) as c:
            c.sendall(b"POST /runs HTTP/1.1\r\nHost: huiqi\r\nContent-Type: application/json\r\n")
            c.sendall(b"Content-Length: 104857600\r\n\r\n")
            assert _status(c) == b"HTTP/1.1 413 Request Entity Too Large"
        # Chunked (no length to refuse it by), no token: 401 after the first chunk.
        with socket.create_connection(("127.0.0.1", port)) as c:
            c.sendall(b"POST /policy-drafts HTTP/1.1\r\nHost: huiqi\r\nContent-Type: application/yaml\r\n")
            c.sendall(b"Transfer-Encoding: chunked\r\n\r\n100000\r\n" + b"x" * 0x100000 + b"\r\n")
            assert _status(c) == b"HTTP/1.1 401 Unauthorized"

        # The probe that took the server from 367 MB to 991 MB: five 100 MB bodies, no token, sent whole.
        before = _rss(server.pid)
        chunk = b"x" * (1024 * 1024)
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", port)) as c:
                c.sendall(b"POST /runs HTTP/1.1\r\nHost: huiqi\r\nContent-Type: application/json\r\n")
                c.sendall(b"Transfer-Encoding: chunked\r\n\r\n")
                try:
                    for _ in range(100):
                        c.sendall(b"100000\r\n" + chunk + b"\r\n")
                except OSError:  # the server answered and closed: the rest was never needed
                    pass
        assert _rss(server.pid) - before < 20 * 1024 * 1024
        assert httpx.get(f"{base}/health").status_code == 200
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
