"""Publishing to AWS: S3 and EC2 are moto's server on 127.0.0.1. moto has no
ImportSnapshot, so that call (and DescribeImportSnapshotTasks) goes to a
botocore Stubber, which checks each request against EC2's published API
model; the snapshot it reports is a real one made in moto beforehand, which
RegisterImage then uses."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from linuxkit_rules.core.clouds.aws import import_request, publish_aws
from linuxkit_rules.core.clouds.common import CloudError
from linuxkit_rules.testservers import moto_server


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for key in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with moto_server() as url:
        client("s3", url).create_bucket(Bucket="images")
        yield url


def client(service: str, url: str) -> Any:
    import boto3

    return boto3.session.Session(region_name="us-east-1").client(service, endpoint_url=url)


def disk(tmp_path: Path, content: bytes = b"\x55\xaa" * 600_000) -> str:
    path = tmp_path / "sshd.raw"
    path.write_bytes(content)
    return str(path)


def manifest(url: str, file: str, **extra: Any) -> dict:
    return {"target": "//images:sshd", "name": "sshd", "file": file, "bucket": "images",
            "region": "us-east-1", "endpoint": url, "poll": 0, **extra}  # fmt: skip


class Import:
    """An EC2 client for the snapshot import whose answers come from a Stubber."""

    def __init__(self, url: str, file: str, fail: bool = False) -> None:
        from botocore.stub import Stubber

        ec2 = client("ec2", url)
        volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1)
        self.snapshot = ec2.create_snapshot(VolumeId=volume["VolumeId"])["SnapshotId"]
        self.client = client("ec2", url)
        self.stub = Stubber(self.client)
        bucket, key = "images", os.path.basename(file)
        from linuxkit_rules.core.clouds.common import file_digests

        sha, _ = file_digests(file)
        self.stub.add_response(
            "import_snapshot", {"ImportTaskId": "import-snap-1"}, import_request(bucket, key, sha)
        )
        self.stub.add_response(
            "describe_import_snapshot_tasks",
            {
                "ImportSnapshotTasks": [
                    {
                        "ImportTaskId": "import-snap-1",
                        "SnapshotTaskDetail": {"Status": "active", "Progress": "50"},
                    }
                ]
            },  # fmt: skip
            {"ImportTaskIds": ["import-snap-1"]},
        )
        detail = (
            {"Status": "deleted", "StatusMessage": "ClientError: unsupported disk"}
            if fail
            else {"Status": "completed", "SnapshotId": self.snapshot}
        )
        self.stub.add_response(
            "describe_import_snapshot_tasks",
            {
                "ImportSnapshotTasks": [
                    {"ImportTaskId": "import-snap-1", "SnapshotTaskDetail": detail}
                ]
            },
            {"ImportTaskIds": ["import-snap-1"]},
        )
        if fail:
            self.stub.add_response(
                "cancel_import_task",
                {"ImportTaskId": "import-snap-1"},
                {"ImportTaskId": "import-snap-1"},
            )
        self.stub.activate()

    def clients(self, url: str) -> Any:
        return lambda m, target: (client("s3", url), client("ec2", url), self.client)


def test_publish_uploads_imports_registers_and_a_second_run_does_nothing(
    endpoint: str, tmp_path: Path
) -> None:
    file = disk(tmp_path)
    stub = Import(endpoint, file)
    first = publish_aws(manifest(endpoint, file), stub.clients(endpoint))
    stub.stub.assert_no_pending_responses()
    assert first.uploaded and first.destination == "s3://images/sshd.raw"
    ec2 = client("ec2", endpoint)
    [image] = ec2.describe_images(ImageIds=[first.image])["Images"]
    assert image["Name"].startswith("sshd-") and image["Description"].startswith(
        "linuxkit-rules sha256:"
    )
    assert ec2.describe_snapshots(SnapshotIds=[stub.snapshot])["Snapshots"]  # kept for the AMI
    head = client("s3", endpoint).head_object(Bucket="images", Key="sshd.raw")
    assert head["ContentLength"] == os.path.getsize(file)

    # Nothing is uploaded or imported: the stub has no more answers, so any call fails.
    second = publish_aws(manifest(endpoint, file), Import(endpoint, file).clients(endpoint))
    assert not second.uploaded and second.image == first.image


def test_no_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(
        CloudError, match=r"^aws: //images:sshd: no credentials found; set AWS_ACCESS_KEY_ID"
    ):
        publish_aws(manifest("http://127.0.0.1:9", disk(tmp_path)))


def test_missing_bucket(endpoint: str, tmp_path: Path) -> None:
    with pytest.raises(
        CloudError, match=r"^aws: //images:sshd: bucket s3://nope does not exist; create it"
    ):
        publish_aws(manifest(endpoint, disk(tmp_path), bucket="nope"))


def test_failed_import_leaves_nothing(endpoint: str, tmp_path: Path) -> None:
    file = disk(tmp_path)
    stub = Import(endpoint, file, fail=True)
    with pytest.raises(
        CloudError,
        match=r"^aws: //images:sshd: failed while importing the snapshot: .*unsupported disk",
    ):
        publish_aws(manifest(endpoint, file), stub.clients(endpoint))
    stub.stub.assert_no_pending_responses()  # the import task was cancelled
    assert "Contents" not in client("s3", endpoint).list_objects_v2(Bucket="images")


def test_existing_ami_from_other_content(endpoint: str, tmp_path: Path) -> None:
    file = disk(tmp_path)
    first = publish_aws(manifest(endpoint, file), Import(endpoint, file).clients(endpoint))
    ec2 = client("ec2", endpoint)
    name = ec2.describe_images(ImageIds=[first.image])["Images"][0]["Name"]
    ec2.deregister_image(ImageId=first.image)
    ec2.register_image(Name=name, Description="someone else's", RootDeviceName="/dev/xvda")
    client("s3", endpoint).delete_object(Bucket="images", Key="sshd.raw")
    with pytest.raises(
        CloudError,
        match=f"^aws: //images:sshd: AMI {name} .* already exists, made from other content",
    ):
        publish_aws(manifest(endpoint, file), Import(endpoint, file).clients(endpoint))
    assert "Contents" not in client("s3", endpoint).list_objects_v2(Bucket="images")


def test_access_denied(endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.stub import Stubber

    s3 = client("s3", endpoint)
    stub = Stubber(s3)
    stub.add_client_error(
        "head_bucket", "403", "Forbidden", 403, expected_params={"Bucket": "images"}
    )
    stub.activate()
    with pytest.raises(
        CloudError,
        match=r"^aws: //images:sshd: access denied \(403\) while reading the bucket; check",
    ):
        publish_aws(manifest(endpoint, disk(tmp_path)), lambda m, t: (s3, None, None))
