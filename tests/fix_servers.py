"""Fixture plugin: loopback servers for the tests, and the processes a test starts by hand.

The stand-in apps of tests/apps under uvicorn in a thread on a free 127.0.0.1 port (as httpx's own
tests serve theirs), a port nothing listens on, and helpers to start and stop a server process.
"""

from __future__ import annotations

import signal
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

#: The stand-in apps (``standin.py``, ``api.py``, ``pages.py``), for ``uvicorn --app-dir``.
APPS = Path(__file__).parent / "apps"


def free_port() -> int:
    """A 127.0.0.1 port that was free a moment ago (bound to port 0, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThreadedServer(uvicorn.Server):
    """uvicorn in a thread, as httpx's own tests serve their app."""

    def install_signal_handlers(self) -> None:  # the main thread keeps its handlers
        pass


@contextmanager
def serve_in_thread(app: Any, name: str, **options: Any) -> Iterator[str]:
    """Serve *app* with uvicorn in a thread on a free 127.0.0.1 port; yield its base URL."""
    port = free_port()
    server = ThreadedServer(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options))
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the {name} server did not start within 10 s")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def socketserver_in_thread(server: socketserver.TCPServer) -> Iterator[str]:
    """Run a stdlib TCP *server* bound on loopback in a thread; yield its URL; shut it down."""
    host, port = server.socket.getsockname()[:2]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class _RawAnswer(socketserver.BaseRequestHandler):
    """Reads a request's head, then sends the server's ``answer`` bytes (maybe none) and closes."""

    answer = b""

    def handle(self) -> None:
        sock: socket.socket = self.request
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(65536)
            if not chunk:
                return
            head += chunk
        sock.sendall(self.answer)


@contextmanager
def raw_answer_server(answer: bytes) -> Iterator[str]:
    """A loopback server that answers every request with the bytes *answer* (maybe none), then closes; yield its URL."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), type("RawAnswer", (_RawAnswer,), {"answer": answer}))
    server.daemon_threads = True
    with socketserver_in_thread(server) as url:
        yield url


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a server a test started, by its PID: terminate, then kill if it lingers."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def start_standin(
    argv: list[str], cwd: Path, env: dict[str, str], ready_url: str, log: Path
) -> subprocess.Popen[bytes]:
    """Start a stand-in by hand (as a deployed service runs: no [launch]) and wait until *ready_url* answers 200.

    The caller stops it with ``stop_process``.  Fails with the end of *log* if it exits or is not ready in 30 s.
    """
    with log.open("wb") as out:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(ready_url, timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError(f"the stand-in did not start: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)


@pytest.fixture
def sigint_reaches_children() -> Iterator[None]:
    """Let the processes a test starts take SIGINT as Ctrl-C, even when this run inherited it ignored.

    A job started in the background of a non-interactive shell ignores SIGINT, and so does every
    process it starts; a handled signal, unlike an ignored one, is reset to the default on exec.
    """
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="session")
def standin_url() -> Iterator[str]:
    """Base URL of the stand-in service, served by uvicorn in a thread on 127.0.0.1."""
    from tests.apps.standin import app

    with serve_in_thread(app, "stand-in") as url:
        yield url


@pytest.fixture(scope="session")
def tls_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The stand-in over HTTPS with a certificate from a throwaway CA that nothing trusts."""
    import trustme

    from tests.apps.standin import app

    ca = trustme.CA()
    certificate = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("tls")
    key, chain = folder / "key.pem", folder / "chain.pem"
    certificate.private_key_pem.write_to_path(str(key))
    certificate.cert_chain_pems[0].write_to_path(str(chain))
    with serve_in_thread(app, "TLS stand-in", ssl_keyfile=str(key), ssl_certfile=str(chain)) as url:
        yield url.replace("http://", "https://")


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    return free_port()


@pytest.fixture(scope="session")
def traced_url() -> Iterator[str]:
    """Base URL of the stand-in instrumented with the OpenTelemetry SDK; ``GET /_spans`` lists the spans it recorded."""
    from tests.apps.traced import app

    with serve_in_thread(app, "traced stand-in") as url:
        yield url
