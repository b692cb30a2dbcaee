"""The registry client against scripted servers that misbehave: redirects to other
hosts, Bearer tokens, truncated and oversized bodies, 500s and wrong digests."""
from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
import urllib.request
from contextlib import contextmanager
from typing import Callable, Iterator

import pytest

from linuxkit_rules.core.errors import RegistryError
from linuxkit_rules.core.oci import registry as registry_module
from linuxkit_rules.core.oci.pull import pull
from linuxkit_rules.core.oci.registry import (
    RegistryClient,
    _RedirectHandler,
    is_loopback,
    parse_reference,
)

Route = Callable[[http.server.BaseHTTPRequestHandler], None]
BASIC = "Basic " + base64.b64encode(b"u:secret-pw").decode()


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Server:
    """An HTTP server on 127.0.0.1 that answers from `routes` and records every
    request's method, path and Authorization header."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.seen: list[tuple[str, str, str]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                path = self.path.split("?")[0]
                outer.seen.append((self.command, path, self.headers.get("Authorization") or ""))
                route = outer.routes.get((self.command, path))
                if route is None:
                    reply(self, 404, b'{"errors":[{"code":"NOT_FOUND","message":"none"}]}')
                else:
                    route(self)

            do_GET = do_HEAD = do_PUT = do_POST = _any

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def authorizations(self) -> list[str]:
        return [auth for _, _, auth in self.seen if auth]


@contextmanager
def servers(n: int) -> Iterator[list[Server]]:
    started = [Server() for _ in range(n)]
    for s in started:
        s.thread.start()
    try:
        yield started
    finally:
        for s in started:
            s.httpd.shutdown()
            s.httpd.server_close()


def reply(
    h: http.server.BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    length: int | None = None,
) -> None:
    h.send_response(status)
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.send_header("Content-Length", str(len(body) if length is None else length))
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(body)
    h.close_connection = True


def basic_guard(route: Route) -> Route:
    """`route` for requests carrying the Basic credentials u:secret-pw, else a 401 challenge."""

    def guarded(h: http.server.BaseHTTPRequestHandler) -> None:
        if h.headers.get("Authorization") != BASIC:
            reply(h, 401, b"", {"WWW-Authenticate": 'Basic realm="test"'})
        else:
            route(h)

    return guarded


def creds(address: str) -> dict[str, str]:
    return {"REGISTRY_AUTH": f"{address}=u:secret-pw"}


# -- credentials stay with their registry -----------------------------------


def test_redirect_to_another_host_drops_the_credentials() -> None:
    data = b"blob stored elsewhere"
    digest = digest_of(data)
    with servers(2) as (registry, storage):
        registry.routes[("GET", f"/v2/a/b/blobs/{digest}")] = basic_guard(
            lambda h: reply(h, 307, b"", {"Location": f"http://{storage.address}/store/x"})
        )
        storage.routes[("GET", "/store/x")] = lambda h: reply(h, 200, data)
        client = RegistryClient(registry.address, creds(registry.address))
        assert client.get_blob("a/b", digest, len(data)) == data
        assert registry.authorizations() == [BASIC]
        assert storage.seen == [("GET", "/store/x", "")]


def test_redirect_on_the_same_host_keeps_the_credentials() -> None:
    data = b"same host"
    digest = digest_of(data)
    with servers(1) as (registry,):
        registry.routes[("GET", f"/v2/a/b/blobs/{digest}")] = basic_guard(
            lambda h: reply(h, 307, b"", {"Location": "/elsewhere"})
        )
        registry.routes[("GET", "/elsewhere")] = basic_guard(lambda h: reply(h, 200, data))
        client = RegistryClient(registry.address, creds(registry.address))
        assert client.get_blob("a/b", digest) == data


def test_upload_location_on_another_host_gets_no_credentials() -> None:
    data = b"uploaded"
    digest = digest_of(data)
    with servers(2) as (registry, storage):
        registry.routes[("POST", "/v2/a/b/blobs/uploads/")] = basic_guard(
            lambda h: reply(h, 202, b"", {"Location": f"http://{storage.address}/upload/1"})
        )
        storage.routes[("PUT", "/upload/1")] = lambda h: reply(h, 201)
        client = RegistryClient(registry.address, creds(registry.address))
        client.upload_blob("a/b", digest, data)
        assert storage.seen == [("PUT", "/upload/1", "")]


def test_https_to_http_redirect_is_refused() -> None:
    request = urllib.request.Request("https://registry.example/v2/a/b/blobs/x")
    request.add_header("Authorization", BASIC)
    with pytest.raises(RegistryError, match="refused a redirect from https to http"):
        _RedirectHandler().redirect_request(
            request, None, 302, "Found", {}, "http://registry.example/plain"
        )
    same = _RedirectHandler().redirect_request(
        request, None, 302, "Found", {}, "https://other.example/blob"
    )
    assert same is not None and "Authorization" not in same.headers


def test_https_registry_never_sends_to_a_plain_http_location() -> None:
    client = RegistryClient("registry.example", creds("registry.example"))
    with pytest.raises(RegistryError, match="refused to send a request to http://127.0.0.1:9"):
        client.request("PUT", "http://127.0.0.1:9/upload", data=b"x", ok=(201,))


def test_only_literal_loopback_speaks_plain_http() -> None:
    for host in ("127.0.0.1:5000", "127.1.2.3", "localhost:5000", "[::1]:5000", "localhost"):
        assert is_loopback(host), host
        assert RegistryClient(host).base.startswith("http://")
    for host in ("127.example.com", "127.example.com:5000", "localhost.example", "10.0.0.1:5000"):
        assert not is_loopback(host), host
        assert RegistryClient(host).base.startswith("https://")


def test_bearer_token_flow() -> None:
    data = b"token protected"
    digest = digest_of(data)
    with servers(2) as (registry, tokens):

        def blob(h: http.server.BaseHTTPRequestHandler) -> None:
            if h.headers.get("Authorization") == "Bearer t0k3n":
                reply(h, 200, data)
            else:
                challenge = (
                    f'Bearer realm="http://{tokens.address}/token",'
                    'service="registry.test",scope="repository:a/b:pull"'
                )
                reply(h, 401, b"", {"WWW-Authenticate": challenge})

        def token(h: http.server.BaseHTTPRequestHandler) -> None:
            ok = h.headers.get("Authorization") == BASIC
            ok = (
                ok
                and "scope=repository%3Aa%2Fb%3Apull" in h.path
                and "service=registry.test" in h.path
            )
            reply(h, 200 if ok else 403, json.dumps({"token": "t0k3n"}).encode() if ok else b"")

        registry.routes[("GET", f"/v2/a/b/blobs/{digest}")] = blob
        tokens.routes[("GET", "/token")] = token
        client = RegistryClient(registry.address, creds(registry.address))
        assert client.get_blob("a/b", digest) == data
        assert registry.authorizations() == ["Bearer t0k3n"]
        assert tokens.authorizations() == [BASIC]

        refused = RegistryClient(registry.address, {})
        with pytest.raises(RegistryError, match="token service refused") as e:
            refused.get_blob("a/b", digest)
        assert "\n" not in str(e.value)


# -- bodies and digests ------------------------------------------------------


def test_digest_mismatch_is_refused() -> None:
    digest = digest_of(b"what was asked for")
    with servers(1) as (registry,):
        registry.routes[("GET", f"/v2/a/b/blobs/{digest}")] = lambda h: reply(
            h, 200, b"other bytes"
        )
        with pytest.raises(RegistryError, match="does not match its digest") as e:
            RegistryClient(registry.address).get_blob("a/b", digest)
        assert "\n" not in str(e.value)


def test_size_mismatch_is_refused() -> None:
    data = b"twelve bytes"
    digest = digest_of(data)
    with servers(1) as (registry,):
        registry.routes[("GET", f"/v2/a/b/blobs/{digest}")] = lambda h: reply(h, 200, data)
        with pytest.raises(RegistryError, match="more than the 5 allowed|larger than the 5"):
            RegistryClient(registry.address).get_blob("a/b", digest, 5)


def test_server_error_is_one_line() -> None:
    digest = digest_of(b"x")
    body = b'{"errors":[{"code":"UNKNOWN","message":"disk\\nfull"}]}'
    with servers(1) as (registry,):
        registry.routes[("GET", f"/v2/a/b/blobs/{digest}")] = lambda h: reply(h, 500, body)
        with pytest.raises(RegistryError, match="HTTP 500: UNKNOWN: disk full") as e:
            RegistryClient(registry.address).get_blob("a/b", digest)
        assert "\n" not in str(e.value)


def test_truncated_body_is_one_line() -> None:
    digest = digest_of(b"x" * 100)
    with servers(1) as (registry,):
        registry.routes[("GET", f"/v2/a/b/blobs/{digest}")] = lambda h: reply(
            h, 200, b"x" * 10, length=100
        )
        with pytest.raises(RegistryError, match="truncated body") as e:
            RegistryClient(registry.address).get_blob("a/b", digest)
        assert "\n" not in str(e.value)


def test_oversized_manifest_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module, "MAX_MANIFEST_BYTES", 64)
    with servers(1) as (registry,):
        registry.routes[("GET", "/v2/a/b/manifests/v1")] = lambda h: reply(
            h, 200, b"{" + b" " * 200 + b"}", {"Content-Type": "application/json"}
        )
        with pytest.raises(RegistryError, match="more than the 64 allowed"):
            RegistryClient(registry.address).request(
                "GET", "/v2/a/b/manifests/v1", limit=registry_module.MAX_MANIFEST_BYTES
            )


def index_with(entry: dict[str, object]) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{**entry, "platform": {"os": "linux", "architecture": "amd64"}}],
        }
    ).encode()


def serve_index(registry: Server, index: bytes) -> str:
    digest = digest_of(index)
    registry.routes[("GET", f"/v2/a/b/manifests/{digest}")] = lambda h: reply(
        h, 200, index, {"Content-Type": "application/vnd.oci.image.index.v1+json"}
    )
    return digest


def test_index_child_digest_must_be_sha256_hex() -> None:
    with servers(1) as (registry,):
        index = index_with(
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:../../x",
                "size": 2,
            }
        )
        digest = serve_index(registry, index)
        with pytest.raises(
            RegistryError, match=r"index entry: digest 'sha256:../../x' is not sha256"
        ):
            pull(parse_reference(f"{registry.address}/a/b@{digest}"), {})
        assert [path for _, path, _ in registry.seen] == [f"/v2/a/b/manifests/{digest}"]


def test_index_child_size_is_checked() -> None:
    manifest = b'{"schemaVersion":2}'
    with servers(1) as (registry,):
        child = digest_of(manifest)
        registry.routes[("GET", f"/v2/a/b/manifests/{child}")] = lambda h: reply(
            h, 200, manifest, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
        )
        index = index_with(
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": child, "size": 3}
        )
        digest = serve_index(registry, index)
        with pytest.raises(RegistryError, match="more than the 3 allowed|larger than the 3"):
            pull(parse_reference(f"{registry.address}/a/b@{digest}"), {})


def test_malformed_manifest_json_is_one_line() -> None:
    with servers(1) as (registry,):
        digest = serve_index(registry, b"{not json")
        with pytest.raises(RegistryError, match="index is not valid JSON") as e:
            pull(parse_reference(f"{registry.address}/a/b@{digest}"), {})
        assert "\n" not in str(e.value)
