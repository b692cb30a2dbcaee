"""Publishing to Google Cloud: Cloud Storage is gcp-storage-emulator (a real
server on 127.0.0.1); the Compute Engine API and the token endpoint are the
recording stand-in of testservers.py (no emulator exists), whose requests are
checked against the API's documented shape."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from linuxkit_rules.core.clouds.common import CloudError
from linuxkit_rules.core.clouds.gcp import publish_gcp
from linuxkit_rules.testservers import (
    ComputeStandIn,
    compute_stand_in,
    cutting_proxy,
    gcs_emulator,
    service_account_key,
)

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@pytest.fixture
def servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, ComputeStandIn]]:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage  # type: ignore[attr-defined]

    with gcs_emulator() as gcs, compute_stand_in() as compute:
        storage.Client(
            project="p", credentials=AnonymousCredentials(), client_options={"api_endpoint": gcs}
        ).create_bucket("images")
        key = tmp_path / "adc.json"
        key.write_text(json.dumps(service_account_key(f"{compute.url}/token")))
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
        yield gcs, compute


def tarball(tmp_path: Path, content: bytes = b"disk" * 300_000) -> str:
    path = tmp_path / "sshd.img.tar.gz"
    path.write_bytes(content)
    return str(path)


def manifest(gcs: str, compute: ComputeStandIn, file: str, **extra: Any) -> dict:
    return {
        "target": "//images:sshd",
        "name": "sshd",
        "file": file,
        "project": "proj",
        "bucket": "images",
        "family": "linuxkit",
        "storage_endpoint": gcs,
        "compute_endpoint": compute.url,
        **extra,
    }


def _posts(compute: ComputeStandIn) -> list[dict]:
    return [b for m, p, b in compute.requests if m == "POST" and p.endswith("/global/images")]


def test_publish_uploads_then_creates_the_image_and_a_second_run_does_nothing(
    servers: tuple[str, ComputeStandIn], tmp_path: Path
) -> None:
    gcs, compute = servers
    file = tarball(tmp_path)
    first = publish_gcp(manifest(gcs, compute, file))
    assert first.uploaded and first.destination == "gs://images/sshd.img.tar.gz"
    name = first.image.rsplit("/", 1)[1]
    assert first.image == f"projects/proj/global/images/{name}" and name.startswith("sshd-")
    [body] = _posts(compute)
    # images.insert as documented: name, family, rawDisk.source as a Cloud Storage URL
    assert body["name"] == name and body["family"] == "linuxkit"
    assert body["rawDisk"] == {"source": "https://storage.googleapis.com/images/sshd.img.tar.gz"}
    assert body["description"].startswith("linuxkit-rules sha256:")
    assert any(p == "/token" for _, p, _ in compute.requests)  # credentials from the default chain

    second = publish_gcp(manifest(gcs, compute, file))
    assert not second.uploaded and second.image == first.image
    assert len(_posts(compute)) == 1


def test_no_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    m = manifest("http://127.0.0.1:9", ComputeStandIn(), tarball(tmp_path))
    with pytest.raises(
        CloudError,
        match=r"^gcp: //images:sshd: no credentials found; set GOOGLE_APPLICATION_CREDENTIALS",
    ):
        publish_gcp(m)


def test_missing_bucket(servers: tuple[str, ComputeStandIn], tmp_path: Path) -> None:
    gcs, compute = servers
    m = {**manifest(gcs, compute, tarball(tmp_path)), "bucket": "nope"}
    with pytest.raises(
        CloudError, match=r"^gcp: //images:sshd: bucket gs://nope does not exist; create it"
    ):
        publish_gcp(m)


def _objects(gcs: str) -> list[str]:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage  # type: ignore[attr-defined]

    client = storage.Client(
        project="p", credentials=AnonymousCredentials(), client_options={"api_endpoint": gcs}
    )
    return [b.name for b in client.list_blobs("images")]


def test_existing_image_from_other_content_fails_and_removes_the_upload(
    servers: tuple[str, ComputeStandIn], tmp_path: Path
) -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage  # type: ignore[attr-defined]

    gcs, compute = servers
    file = tarball(tmp_path)
    name = publish_gcp(manifest(gcs, compute, file)).image.rsplit("/", 1)[1]
    compute.images[name]["description"] = "made by someone else"
    client = storage.Client(
        project="p", credentials=AnonymousCredentials(), client_options={"api_endpoint": gcs}
    )
    client.bucket("images").blob("sshd.img.tar.gz").delete()
    with pytest.raises(
        CloudError,
        match=f"^gcp: //images:sshd: image {name} already exists in project proj, made from other content; delete it",
    ):
        publish_gcp(manifest(gcs, compute, file))
    assert _objects(gcs) == []  # this run's upload was removed


def test_failed_image_creation_leaves_nothing(
    servers: tuple[str, ComputeStandIn], tmp_path: Path
) -> None:
    gcs, compute = servers
    compute.fail_insert = True
    with pytest.raises(CloudError, match=r"^gcp: //images:sshd: failed while creating the image"):
        publish_gcp(manifest(gcs, compute, tarball(tmp_path)))
    assert compute.images == {}
    assert _objects(gcs) == []


def test_access_denied(servers: tuple[str, ComputeStandIn], tmp_path: Path) -> None:
    gcs, compute = servers
    compute.deny = True
    with pytest.raises(
        CloudError, match=r"^gcp: //images:sshd: access denied \(403\) while looking up the image"
    ):
        publish_gcp(manifest(gcs, compute, tarball(tmp_path)))
    assert _objects(gcs) == []


def test_interrupted_upload(servers: tuple[str, ComputeStandIn], tmp_path: Path) -> None:
    gcs, compute = servers
    big = os.urandom(3 << 20)
    with cutting_proxy(gcs, cut_after=1 << 20) as proxy:
        with pytest.raises(
            CloudError,
            match=r"^gcp: //images:sshd: failed while uploading: .*run `pants publish` again",
        ):
            publish_gcp(manifest(proxy, compute, tarball(tmp_path, big), retries=0))
    assert _objects(gcs) == []
    assert compute.images == {}
