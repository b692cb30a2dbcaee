#!/usr/bin/env python3
"""Publish time of //images:sshd's cloud outputs to the local servers.

    PYTHON bench/clouds.py --dist DIR

DIR holds `sshd.img.tar.gz`, `sshd.raw` and `sshd-azure.vhd` (build
//images:sshd with formats gcp, aws and azure). PYTHON is an
interpreter with the python-default resolve's packages (the SDKs, moto,
gcp-storage-emulator). For each cloud: the first publish to a fresh local
server, then a second, unchanged one. Servers and stand-ins are those of the
tests (linuxkit_rules/testservers.py): gcp-storage-emulator plus the Compute
Engine stand-in, moto (the snapshot import answered by a botocore Stubber, as
moto has none), Azurite. Not a test: it prints a markdown table.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from linuxkit_rules.core.clouds.aws import publish_aws  # noqa: E402
from linuxkit_rules.core.clouds.azure import publish_azure  # noqa: E402
from linuxkit_rules.core.clouds.gcp import publish_gcp  # noqa: E402
from linuxkit_rules.testservers import (  # noqa: E402
    AZURITE_KEY,
    azurite,
    compute_stand_in,
    gcs_emulator,
    moto_server,
)


def timed(fn, *args):  # type: ignore[no-untyped-def]
    started = time.monotonic()
    result = fn(*args)
    return time.monotonic() - started, result


def bench_gcp(dist: Path, tmp: Path) -> tuple[float, float]:
    import json

    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage  # type: ignore[attr-defined]

    from linuxkit_rules.testservers import service_account_key

    with gcs_emulator() as gcs, compute_stand_in() as compute:
        storage.Client(project="p", credentials=AnonymousCredentials(),
                       client_options={"api_endpoint": gcs}).create_bucket("images")  # fmt: skip
        key = tmp / "key.json"
        key.write_text(json.dumps(service_account_key(f"{compute.url}/token")))
        os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = str(key)
        m = {"target": "//images:sshd", "name": "sshd", "file": str(dist / "sshd.img.tar.gz"), "project": "p",
             "bucket": "images", "storage_endpoint": gcs, "compute_endpoint": compute.url}  # fmt: skip
        first, r1 = timed(publish_gcp, m)
        second, r2 = timed(publish_gcp, m)
        assert r1.uploaded and not r2.uploaded
        return first, second


def bench_aws(dist: Path) -> tuple[float, float]:
    import boto3
    from botocore.stub import Stubber

    from linuxkit_rules.core.clouds.aws import import_request
    from linuxkit_rules.core.clouds.common import file_digests

    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    file = dist / "sshd.raw"
    with moto_server() as url:
        def client(service: str):  # type: ignore[no-untyped-def]
            return boto3.session.Session(region_name="us-east-1").client(service, endpoint_url=url)

        client("s3").create_bucket(Bucket="images")
        ec2 = client("ec2")
        snapshot = ec2.create_snapshot(
            VolumeId=ec2.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"]
        )["SnapshotId"]
        importer = client("ec2")
        stub = Stubber(importer)
        sha, _ = file_digests(str(file))
        stub.add_response("import_snapshot", {"ImportTaskId": "t"}, import_request("images", file.name, sha))
        stub.add_response("describe_import_snapshot_tasks", {"ImportSnapshotTasks": [
            {"SnapshotTaskDetail": {"Status": "completed", "SnapshotId": snapshot}}]}, {"ImportTaskIds": ["t"]})  # fmt: skip
        stub.activate()
        m = {"target": "//images:sshd", "name": "sshd", "file": str(file), "bucket": "images",
             "region": "us-east-1", "endpoint": url, "poll": 0}  # fmt: skip
        clients = lambda m, t: (client("s3"), client("ec2"), importer)  # noqa: E731
        first, r1 = timed(publish_aws, m, clients)
        second, r2 = timed(publish_aws, m, clients)
        assert r1.uploaded and not r2.uploaded
        return first, second


def bench_azure(dist: Path, tmp: Path) -> tuple[float, float]:
    from azure.storage.blob import BlobServiceClient

    with azurite(tmp / "azurite") as account:
        BlobServiceClient(account, credential={"account_name": "devstoreaccount1", "account_key": AZURITE_KEY}
                          ).get_container_client("images").create_container()  # fmt: skip
        os.environ["AZURE_STORAGE_KEY"] = AZURITE_KEY
        m = {"target": "//images:sshd", "name": "sshd", "file": str(dist / "sshd-azure.vhd"),
             "account_url": account, "container": "images"}  # fmt: skip
        first, r1 = timed(publish_azure, m)
        second, r2 = timed(publish_azure, m)
        assert r1.uploaded and not r2.uploaded
        return first, second


def main() -> int:
    warnings.filterwarnings("ignore", category=FutureWarning)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", required=True)
    args = parser.parse_args()
    dist = Path(args.dist)
    tmp = Path(tempfile.mkdtemp(prefix="lkr-bench-clouds-"))
    rows = [
        ("gcp (gcp-storage-emulator + Compute stand-in)", "sshd.img.tar.gz", bench_gcp(dist, tmp)),
        ("aws (moto; import stubbed)", "sshd.raw", bench_aws(dist)),
        ("azure (Azurite)", "sshd-azure.vhd", bench_azure(dist, tmp)),
    ]
    print("| cloud (server) | file | size | first publish | unchanged second |")
    print("|---|---|---|---|---|")
    for cloud, name, (first, second) in rows:
        size = (dist / name).stat().st_size / (1 << 20)
        print(f"| {cloud} | {name} | {size:.1f} MiB | {first:.2f} s | {second:.2f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
