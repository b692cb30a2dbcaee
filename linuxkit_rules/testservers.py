"""Real servers on 127.0.0.1 for tests: Debian's docker-registry and dockerd.

Each is started in a private temporary directory, in its own process group,
and stopped (the whole group) when the `with` block ends; if the test process
dies first, even by SIGKILL, the kernel sends the server SIGTERM
(PR_SET_PDEATHSIG), so no registry or dockerd outlives its test. A missing binary skips the test with the Debian
package to install (`./pants` installs both as root, from build-support/host-tools.txt).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from linuxkit_rules.core.boot.lifetime import die_with_parent, kill_group

_SEARCH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def find_binary(name: str, package: str) -> str:
    path = shutil.which(name, path=os.environ.get("PATH", "") + ":" + _SEARCH)
    if path is None:
        pytest.skip(f"{name} not found: install the Debian package {package}")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(
    argv: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            # SIGTERM, not SIGKILL: dockerd then stops its containerd too.
            preexec_fn=lambda: die_with_parent(signal.SIGTERM),
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    kill_group(proc, timeout=30)


def _wait(check, what: str, log: Path, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up in {timeout} s:\n{log.read_text()[-3000:]}")


@contextmanager
def docker_registry(tmp: Path) -> Iterator[str]:
    """A registry (distribution 2.x) with filesystem storage under `tmp`; yields `127.0.0.1:PORT`."""
    binary = find_binary("docker-registry", "docker-registry")
    port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    config = tmp / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp / 'storage'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = tmp / "registry.log"
    proc = _start([binary, "serve", str(config)], log)
    try:
        _wait(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2).status == 200,
            "docker-registry",
            log,
            proc,
        )
        yield f"127.0.0.1:{port}"
    finally:
        _stop(proc)


@contextmanager
def dockerd(tmp: Path) -> Iterator[str]:
    """A Docker engine on a private socket with no networking set-up; yields its DOCKER_HOST."""
    binary = find_binary("dockerd", "docker.io")
    tmp.mkdir(parents=True, exist_ok=True)
    sock = tmp / "docker.sock"
    log = tmp / "dockerd.log"
    argv = [
        binary,
        f"--host=unix://{sock}",
        f"--data-root={tmp / 'data'}",
        f"--exec-root={tmp / 'exec'}",
        f"--pidfile={tmp / 'dockerd.pid'}",
        "--iptables=false",
        "--ip-forward=false",
        "--ip-masq=false",
        "--bridge=none",
        "--storage-driver=overlay2",
    ]
    env = {**os.environ, "PATH": os.environ.get("PATH", "") + ":" + _SEARCH}
    proc = _start(argv, log, env)

    def ping() -> bool:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(str(sock))
            s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return b"OK" in s.recv(4096)

    try:
        _wait(ping, "dockerd", log, proc, timeout=120)
        yield f"unix://{sock}"
    finally:
        _stop(proc)


# ---------------------------------------------------------------------------
# Cloud servers: a Cloud Storage emulator and moto (in this process, each on its
# own thread), Azurite (node, from the npm registry), and a recording stand-in
# for the Compute Engine API and Google's token endpoint, for which no emulator
# exists.


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies, even by a signal."""
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextmanager
def gcs_emulator() -> Iterator[str]:
    """gcp-storage-emulator in memory; yields its endpoint `http://127.0.0.1:PORT`."""
    from gcp_storage_emulator.server import create_server

    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's server (S3, EC2...); yields its endpoint `http://127.0.0.1:PORT`."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    # moto keeps its state per process, not per server: start from nothing.
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))
    try:
        yield url
    finally:
        server.stop()


AZURITE_VERSION = "3.35.0"
# Azurite's documented development account.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def azurite_binary() -> str:
    """azurite-blob, installed once with the machine's npm configuration into
    ~/.cache/linuxkit-rules/azurite-VERSION."""
    prefix = Path.home() / ".cache" / "linuxkit-rules" / f"azurite-{AZURITE_VERSION}"
    binary = prefix / "node_modules" / ".bin" / "azurite-blob"
    if binary.exists():
        return str(binary)
    npm = find_binary("npm", "npm")
    tmp = prefix.with_name(prefix.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    result = subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(tmp),
            "--no-audit",
            "--no-fund",
            f"azurite@{AZURITE_VERSION}",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": os.environ.get("PATH", "") + ":" + _SEARCH},
    )
    if result.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(
            f"npm install azurite@{AZURITE_VERSION} failed:\n{result.stderr[-3000:]}"
        )
    shutil.rmtree(prefix, ignore_errors=True)
    tmp.rename(prefix)
    return str(binary)


@contextmanager
def azurite(tmp: Path) -> Iterator[str]:
    """Azurite's blob service; yields the account URL `http://127.0.0.1:PORT/devstoreaccount1`."""
    binary = azurite_binary()
    node = find_binary("node", "nodejs")
    port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    log = tmp / "azurite.log"
    argv = [
        node, binary, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(tmp / "data"),
        "--silent", "--skipApiVersionCheck", "--loose",
    ]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
        )

    def up() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True

    try:
        _wait(up, "azurite", log, proc, timeout=120)
        yield f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    finally:
        _stop(proc)


def service_account_key(token_uri: str) -> dict:
    """A service-account key file of a new RSA key, whose token endpoint is the stand-in's."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return {
        "type": "service_account",
        "project_id": "proj",
        "private_key_id": "test",
        "private_key": pem.decode(),
        "client_email": "publisher@proj.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }


class ComputeStandIn:
    """Google's OAuth token endpoint and the Compute Engine images API, as far as
    publishing uses them (images get/insert/delete, global operations get/wait),
    recording each request. Not an emulator: it answers with the documented
    JSON shapes and keeps images in a dict. `fail_insert` makes the next insert's
    operation end in an error."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict]] = []
        self.images: dict[str, dict] = {}
        self.fail_insert = False
        self.deny = False
        self.url = ""

    def handle(self, method: str, path: str, body: dict) -> tuple[int, dict]:
        import re

        self.requests.append((method, path, body))
        if path == "/token":
            return 200, {
                "access_token": "stand-in-token",
                "token_type": "Bearer",
                "expires_in": 3600,
            }
        m = re.fullmatch(r"/compute/v1/projects/([^/]+)/global/images(?:/([^/?]+))?(?:\?.*)?", path)
        if m and self.deny:
            return 403, {"error": {"code": 403, "message": "permission denied"}}
        if m:
            project, name = m.groups()
            if method == "GET":
                if name in self.images:
                    return 200, self.images[name]
                return 404, {"error": {"code": 404, "message": f"image {name} not found"}}
            if method == "POST":
                if body["name"] in self.images:
                    return 409, {"error": {"code": 409, "message": "already exists"}}
                self.images[body["name"]] = {**body, "selfLink": f"{self.url}/{body['name']}"}
                return 200, self._operation(project, "insert", self.fail_insert)
            if method == "DELETE":
                self.images.pop(name or "", None)
                return 200, self._operation(project, "delete", False)
        m = re.fullmatch(
            r"/compute/v1/projects/([^/]+)/global/operations/([^/?]+)(?:/wait)?(?:\?.*)?", path
        )
        if m:
            failed = m.group(2).endswith("-failed")
            return 200, self._operation(
                m.group(1), m.group(2).split("-")[0], failed, name=m.group(2)
            )
        return 404, {"error": {"code": 404, "message": f"no route {method} {path}"}}

    def _operation(self, project: str, kind: str, failed: bool, name: str = "") -> dict:
        name = name or f"{kind}-{len(self.requests)}" + ("-failed" if failed else "")
        op: dict = {
            "kind": "compute#operation",
            "name": name,
            "operationType": kind,
            "status": "DONE",
        }
        if failed:
            op["error"] = {"errors": [{"code": "INVALID_IMAGE", "message": "stand-in failure"}]}
            op["httpErrorStatusCode"] = 400
            op["httpErrorMessage"] = "BAD REQUEST"
        return op


@contextmanager
def compute_stand_in() -> Iterator[ComputeStandIn]:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    state = ComputeStandIn()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw.startswith(b"{") else {"form": raw.decode()}
            except ValueError:
                body = {}
            status, answer = state.handle(self.command, self.path, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _reply

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def cutting_proxy(upstream: str, cut_after: int) -> Iterator[str]:
    """A TCP proxy to `upstream` (`http://HOST:PORT[/path]`) that drops every
    connection once a client has sent more than `cut_after` bytes on it: an
    upload interrupted half-way. Yields the same URL through the proxy."""
    import threading
    from urllib.parse import urlparse

    parsed = urlparse(upstream)
    target = (parsed.hostname or "127.0.0.1", parsed.port or 80)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()

    def pipe(src: socket.socket, dst: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while not stop.is_set():
                data = src.recv(65536)
                if not data:
                    break
                sent += len(data)
                if limit is not None and sent > limit:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def accept() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(target)
            threading.Thread(target=pipe, args=(client, server, cut_after), daemon=True).start()
            threading.Thread(target=pipe, args=(server, client, None), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    port = listener.getsockname()[1]
    try:
        yield parsed._replace(netloc=f"127.0.0.1:{port}").geturl()
    finally:
        stop.set()
        listener.close()
