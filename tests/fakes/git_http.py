"""A git remote over smart HTTP on 127.0.0.1, standing in for github.com's git endpoint: ``git http-backend`` (git's
own CGI program) behind a threaded ``http.server``, serving the bare repositories under a root folder.

Like GitHub it wants an installation token as HTTP Basic ``x-access-token:<token>`` (401 with a Basic challenge
otherwise), and it records every request: which service, how many response bytes (the pack an ``upload-pack``
served), and the Authorization header it got, so tests can tell a full fetch from an incremental one.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType


@dataclass(frozen=True)
class Served:
    method: str
    path: str  # e.g. /acme/widgets.git/git-upload-pack
    status: int
    body_bytes: int  # response body size; for a POST to git-upload-pack, the pack and its framing
    authorization: str


class GitHttpServer:
    """``with GitHttpServer(root, token) as server: server.url("acme/widgets")`` → ``http://127.0.0.1:P/acme/widgets.git``."""

    def __init__(self, root: Path, token: str = "", accept: Callable[[str], bool] | None = None) -> None:
        """Serve the bare repositories under ``root``; with ``token`` only that token is let in, with ``accept`` the
        tokens it approves (the fake GitHub's installation tokens, say); with neither, anyone."""
        self.root = root
        self.token = token
        self.accept = accept
        self.served: list[Served] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                return

            def setup(self) -> None:
                super().setup()  # headers and body go out in separate writes: no Nagle delay between them
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self) -> None:
                owner._handle(self, b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                owner._handle(self, self.rfile.read(length))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> GitHttpServer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, repo: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/{repo}.git"

    @property
    def template(self) -> str:
        """The ``GUARDRAIL_GIT_URL`` template for this server."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/{{repo}}.git"

    def packs(self) -> list[Served]:
        """The upload-pack answers (one per fetch's pack request, protocol v2)."""
        with self._lock:
            return [s for s in self.served if s.method == "POST" and s.path.endswith("/git-upload-pack")]

    def reset(self) -> None:
        with self._lock:
            self.served.clear()

    def _authorized(self, header: str) -> bool:
        if not self.token and self.accept is None:
            return True
        scheme, _, encoded = header.partition(" ")
        try:
            user, _, token = base64.b64decode(encoded, validate=True).decode().partition(":")
        except ValueError:
            return False
        if scheme.lower() != "basic" or user != "x-access-token" or not token:
            return False
        return token == self.token if self.token else self.accept is not None and self.accept(token)

    def _handle(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        path, _, query = request.path.partition("?")
        authorization = request.headers.get("Authorization", "")
        if not self._authorized(authorization):
            self._answer(request, 401, {"WWW-Authenticate": 'Basic realm="GitHub"'}, b"")
            self._record(request.command, path, 401, 0, authorization)
            return
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "HOME": str(self.root),
            "REQUEST_METHOD": request.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_USER": "x-access-token" if authorization else "",
        }
        if request.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = request.headers["Git-Protocol"]
        if request.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = request.headers["Content-Encoding"]
        done = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False)
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = done.stdout.partition(b"\n\n")
        headers: dict[str, str] = {}
        status = 200
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers[name.strip()] = value.strip()
        self._answer(request, status, headers, payload)
        self._record(request.command, path, status, len(payload), authorization)

    def _record(self, method: str, path: str, status: int, size: int, authorization: str) -> None:
        with self._lock:
            self.served.append(Served(method, path, status, size, authorization))

    @staticmethod
    def _answer(request: BaseHTTPRequestHandler, status: int, headers: dict[str, str], payload: bytes) -> None:
        request.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "transfer-encoding"):
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)
