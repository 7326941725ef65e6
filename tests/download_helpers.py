"""What tests/unit/data/test_download.py and tests/e2e/test_download.py share."""

import dataclasses
import hashlib
import http.server
import re
import threading
import time
from pathlib import Path

import pytest


def sha256(data):
    return hashlib.sha256(data).hexdigest()


@dataclasses.dataclass
class Behaviour:
    files: dict  # served name -> bytes
    honour_range: bool = True
    drop_first: bool = False  # first request for a file: send half the body, then close the connection
    stall_first: float = 0.0  # first request for a file: send half the body, then wait this long before closing
    first_status: int = None  # first request for a file: answer this status instead
    log: list = dataclasses.field(default_factory=list)  # (name, Range header, status) per request

    def requests_for(self, name):
        return [entry for entry in self.log if entry[0] == name]


class _Handler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.0: the server closes the connection after each answer, so a short body is a dropped connection.
    def log_message(self, *args):
        pass

    def do_GET(self):
        behaviour = self.server.behaviour
        name = self.path.lstrip("/")
        first = not behaviour.requests_for(name)
        range_header = self.headers.get("Range")
        data = behaviour.files.get(name)
        if data is None or (first and behaviour.first_status):
            status = 404 if data is None else behaviour.first_status
            behaviour.log.append((name, range_header, status))
            self.send_error(status)
            return
        start, status = 0, 200
        if range_header and behaviour.honour_range:
            start, status = int(re.fullmatch(r"bytes=(\d+)-", range_header).group(1)), 206
            if start >= len(data):
                behaviour.log.append((name, range_header, 416))
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        behaviour.log.append((name, range_header, status))
        body = data[start:]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if first and (behaviour.drop_first or behaviour.stall_first):
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            time.sleep(behaviour.stall_first)
            return
        self.wfile.write(body)


@pytest.fixture
def serve():
    """serve(Behaviour) -> base URL of a server on 127.0.0.1 (ephemeral port), stopped after the test."""
    servers = []

    def start(behaviour):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.behaviour = behaviour
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def leftovers(folder):
    """Every file under `folder`, relative, to show nothing partial was left behind."""
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file())

