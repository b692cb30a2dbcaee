"""The registry client, push and pull, against a real local registry and a scripted one for errors."""
from __future__ import annotations

import base64
import http.server
import io
import json
import threading
from typing import Iterator

import pytest

from linuxkit_rules.core.errors import RegistryError
from linuxkit_rules.core.oci.layout import ImageConfig, write_oci_layout
from linuxkit_rules.core.oci.publish import plan_from_layouts
from linuxkit_rules.core.oci.pull import pull
from linuxkit_rules.core.oci.push import PushPlan, push
from linuxkit_rules.core.oci.registry import Blob, Reference, RegistryClient, parse_reference
from linuxkit_rules.testservers import docker_registry, free_port


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with docker_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


def layout(payload: bytes) -> bytes:
    out = io.BytesIO()
    write_oci_layout([payload], ImageConfig(), "x/y:t", out, 1704067200)
    return out.getvalue()


def test_parse_reference() -> None:
    ref = parse_reference("127.0.0.1:5000/linuxkit/sshd:v1.0")
    assert ref == Reference("127.0.0.1:5000", "linuxkit/sshd", "v1.0", "")
    digest = "sha256:" + "a" * 64
    ref = parse_reference(f"registry.example/x@{digest}")
    assert (ref.repository, ref.tag, ref.digest, ref.reference) == ("x", "", digest, digest)
    for bad in ("sshd:v1", "host/UPPER:v1", "host/x@sha256:abc", "host/x:bad tag"):
        with pytest.raises(RegistryError, match="expected REGISTRY/REPOSITORY"):
            parse_reference(bad)


def test_push_pull_and_push_again(registry: str) -> None:
    plan = plan_from_layouts([(io.BytesIO(layout(b"layer one")), "test")])
    target = parse_reference(f"{registry}/test/one:v1")
    [first] = push(plan, [target], {})
    assert first.uploaded == 2 + 1 + 1  # config + layer, manifest, index under the tag
    assert first.skipped == 0

    client = RegistryClient(registry)
    media_type, index = client.get_manifest("test/one", "v1")
    assert media_type == "application/vnd.oci.image.index.v1+json"
    assert index == plan.top and first.digest == plan.digest
    entry = json.loads(index)["manifests"][0]
    assert entry["platform"] == {"architecture": "amd64", "os": "linux"}

    pulled = pull(parse_reference(f"{registry}/test/one@{plan.digest}"), {})
    assert pulled.digest == entry["digest"]
    assert {b.digest for b in pulled.blobs} == {b.digest for b in plan.blobs}

    [again] = push(plan, [target], {})
    assert (again.uploaded, again.skipped) == (0, 4)


def test_second_push_sends_only_heads(registry: str) -> None:
    plan = plan_from_layouts([(io.BytesIO(layout(b"layer two")), "test")])
    target = parse_reference(f"{registry}/test/two:v1")
    push(plan, [target], {})
    client = RegistryClient(registry)
    for blob in plan.blobs:
        assert client.has_blob("test/two", blob.digest)
    # A new tag for the same content uploads only the tag.
    [result] = push(plan, [parse_reference(f"{registry}/test/two:release")], {})
    assert (result.uploaded, result.skipped) == (1, 3)


def test_failed_blob_leaves_no_tag(registry: str) -> None:
    good = plan_from_layouts([(io.BytesIO(layout(b"layer three")), "test")])
    corrupt = Blob("sha256:" + "0" * 64, b"not what the digest says")
    plan = PushPlan((corrupt, *good.blobs), good.manifests, good.top_media_type, good.top)
    with pytest.raises(RegistryError) as e:
        push(plan, [parse_reference(f"{registry}/test/three:v1")], {})
    assert str(e.value).startswith(f"registry {registry}: upload blob sha256:00000000000")
    assert "\n" not in str(e.value)
    client = RegistryClient(registry)
    status, _, _ = client.request("HEAD", "/v2/test/three/manifests/v1", ok=(200, 404))
    assert status == 404


def test_pull_missing_digest_is_one_line_404(registry: str) -> None:
    with pytest.raises(RegistryError, match=r"HTTP 404 not found") as e:
        pull(parse_reference(f"{registry}/test/none@sha256:" + "1" * 64), {})
    assert "\n" not in str(e.value)


def test_pull_needs_a_digest(registry: str) -> None:
    with pytest.raises(RegistryError, match="name it by digest"):
        pull(parse_reference(f"{registry}/test/one:v1"), {})


def test_connection_refused_is_one_line() -> None:
    port = free_port()
    plan = plan_from_layouts([(io.BytesIO(layout(b"x")), "test")])
    with pytest.raises(RegistryError, match=rf"registry 127.0.0.1:{port}: .*cannot connect") as e:
        push(plan, [parse_reference(f"127.0.0.1:{port}/a/b:v1")], {})
    assert "\n" not in str(e.value)


class _BasicAuthOnly(http.server.BaseHTTPRequestHandler):
    """A registry front door that wants Basic credentials u:p and knows no blob."""

    def do_HEAD(self) -> None:
        if self.headers.get("Authorization") != "Basic " + base64.b64encode(b"u:p").decode():
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="test"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_401_is_one_line_and_credentials_are_sent() -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _BasicAuthOnly)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        address = f"127.0.0.1:{server.server_address[1]}"
        with pytest.raises(RegistryError, match=r"HTTP 401 unauthorized") as e:
            RegistryClient(address).has_blob("a/b", "sha256:" + "2" * 64)
        assert "\n" not in str(e.value)
        client = RegistryClient(address, {"REGISTRY_AUTH": f"{address}=u:p"})
        assert client.has_blob("a/b", "sha256:" + "2" * 64) is False
    finally:
        server.shutdown()
        server.server_close()
