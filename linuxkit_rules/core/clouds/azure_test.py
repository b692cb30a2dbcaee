"""Publishing to Azure: blob storage is Azurite (from the npm registry) on 127.0.0.1."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from linuxkit_rules.core.clouds.azure import account_name, publish_azure
from linuxkit_rules.core.clouds.common import CloudError, data_ranges
from linuxkit_rules.testservers import AZURITE_KEY, azurite, cutting_proxy

MIB = 1 << 20


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with azurite(tmp_path_factory.mktemp("azurite")) as url:
        yield url


@pytest.fixture
def account(server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from azure.storage.blob import BlobServiceClient

    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("AZURE_STORAGE_SAS_TOKEN", raising=False)
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT", raising=False)
    monkeypatch.setenv("AZURE_STORAGE_KEY", AZURITE_KEY)
    service = BlobServiceClient(
        server, credential={"account_name": "devstoreaccount1", "account_key": AZURITE_KEY}
    )
    container = service.get_container_client("images")
    if container.exists():
        container.delete_container()
    container.create_container()
    yield server


def vhd(tmp_path: Path, size: int = 6 * MIB) -> str:
    """A disk image with data in two places and zeros elsewhere, 512-byte pages plus a footer."""
    data = bytearray(size + 512)
    data[:4096] = os.urandom(4096)
    data[5 * MIB : 5 * MIB + 1000] = b"\x01" * 1000
    data[-512:] = b"conectix" + b"\0" * 504
    path = tmp_path / "sshd-azure.vhd"
    path.write_bytes(bytes(data))
    return str(path)


def manifest(url: str, file: str, **extra: Any) -> dict:
    return {"target": "//images:sshd", "name": "sshd", "file": file, "account_url": url,
            "container": "images", **extra}  # fmt: skip


def blob(url: str, name: str = "sshd-azure.vhd") -> Any:
    from azure.storage.blob import BlobClient

    return BlobClient(
        url,
        "images",
        name,
        credential={"account_name": "devstoreaccount1", "account_key": AZURITE_KEY},
    )


def test_page_blob_holds_the_disk_and_only_data_pages_were_sent(
    account: str, tmp_path: Path
) -> None:
    file = vhd(tmp_path)
    first = publish_azure(manifest(account, file))
    assert first.uploaded and first.destination.endswith("/images/sshd-azure.vhd")
    client = blob(account)
    props = client.get_blob_properties()
    assert props.blob_type == "PageBlob" and props.size == os.path.getsize(file)
    assert client.download_blob().readall() == Path(file).read_bytes()
    ranges, _ = client.get_page_ranges()
    sent = sum(r["end"] - r["start"] + 1 for r in ranges)
    assert sent == 4096 + 1024 + 512  # the data pages, the footer, nothing else


def test_second_publish_sends_no_page(account: str, tmp_path: Path) -> None:
    file = vhd(tmp_path)
    publish_azure(manifest(account, file))
    etag = blob(account).get_blob_properties().etag
    assert not publish_azure(manifest(account, file)).uploaded
    assert blob(account).get_blob_properties().etag == etag  # the blob was not written


def test_no_credentials(account: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_STORAGE_KEY")
    with pytest.raises(
        CloudError, match=r"^azure: //images:sshd: no credentials found; set AZURE_STORAGE_KEY"
    ):
        publish_azure(manifest(account, vhd(tmp_path)))


def test_missing_container(account: str, tmp_path: Path) -> None:
    with pytest.raises(
        CloudError, match=r"^azure: //images:sshd: container nope does not exist; create it"
    ):
        publish_azure(manifest(account, vhd(tmp_path), container="nope"))


def test_wrong_key_is_access_denied(
    account: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    monkeypatch.setenv("AZURE_STORAGE_KEY", base64.b64encode(b"not the key").decode())
    with pytest.raises(
        CloudError,
        match=r"^azure: //images:sshd: access denied \(403\) while reading the container",
    ):
        publish_azure(manifest(account, vhd(tmp_path)))


def test_interrupted_upload_removes_the_blob(account: str, tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.mkdir()
    file = big / "sshd-azure.vhd"
    file.write_bytes(os.urandom(8 * MIB) + b"\0" * 512)
    with cutting_proxy(account, cut_after=3 * MIB) as proxy:
        with pytest.raises(
            CloudError,
            match=r"^azure: //images:sshd: failed while uploading: .*run `pants publish` again",
        ):
            publish_azure(manifest(proxy, str(file), retries=0))
    assert not blob(account).exists()


def test_account_name_and_data_ranges(tmp_path: Path) -> None:
    assert account_name("https://acct.blob.core.windows.net") == "acct"
    assert account_name("http://127.0.0.1:10000/devstoreaccount1") == "devstoreaccount1"
    path = tmp_path / "f"
    path.write_bytes(b"\0" * 1024 + b"a" * 1536 + b"\0" * 512 + b"b" * 512)
    assert [(o, len(d)) for o, d in data_ranges(str(path), 512, 1024)] == [
        (1024, 1024),
        (2048, 512),
        (3072, 512),
    ]
