"""`pants publish` of an image to Google Cloud, AWS and Azure, through the real
goal in a copy of the repository. Cloud Storage is gcp-storage-emulator, S3
and EC2 are moto, blob storage is Azurite: real servers on 127.0.0.1 that the
test starts and stops. The Compute Engine API is the recording stand-in of
linuxkit_rules/testservers.py (no emulator exists). moto has no EC2
ImportSnapshot, so the AWS publish here fails at the snapshot import: the test
checks its one-line error and that it removed its upload; the import itself is
request-shape checked in core/clouds/aws_test.py."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from linuxkit_rules.testservers import (
    AZURITE_KEY,
    ComputeStandIn,
    azurite,
    compute_stand_in,
    gcs_emulator,
    moto_server,
    service_account_key,
)

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")
SANDBOX = Path.cwd()


def _ignore(directory: str, names: list[str]) -> set[str]:
    """The sandbox's own dot files stay behind; the lint configuration comes along."""
    return {
        n for n in names if (n.startswith(".") and n != ".flake8") or n in ("dist", "__pycache__")
    }


def publish(
    repo: Path, target: str, options: list[str], env: dict[str, str]
) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run(
        ["./pants", "--no-pantsd", "--no-dynamic-ui", "publish", *options, target],
        cwd=repo, capture_output=True, text=True, env=env, timeout=1500,
    )  # fmt: skip
    return result, time.monotonic() - started


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, list[str], dict[str, str], ComputeStandIn, str, str]]:
    import boto3
    from azure.storage.blob import BlobServiceClient
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage  # type: ignore[attr-defined]

    tmp = tmp_path_factory.mktemp("clouds")
    repo = tmp / "repo"
    shutil.copytree(SANDBOX, repo, symlinks=True, ignore=_ignore)
    with gcs_emulator() as gcs, compute_stand_in() as compute, moto_server() as moto, azurite(
        tmp / "azurite"
    ) as account:
        storage.Client(
            project="p", credentials=AnonymousCredentials(), client_options={"api_endpoint": gcs}
        ).create_bucket("images")
        boto3.session.Session(
            region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
        ).client("s3", endpoint_url=moto).create_bucket(Bucket="images")
        BlobServiceClient(
            account, credential={"account_name": "devstoreaccount1", "account_key": AZURITE_KEY}
        ).get_container_client("images").create_container()
        key = tmp / "gcp-key.json"
        key.write_text(json.dumps(service_account_key(f"{compute.url}/token")))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AZURE_", "GOOGLE_"))},
            "NO_SCIE_WARNING": "1",
            "GOOGLE_APPLICATION_CREDENTIALS": str(key),
            "AWS_ACCESS_KEY_ID": "publish-test", "AWS_SECRET_ACCESS_KEY": "publish-test-secret",
            "AZURE_STORAGE_KEY": AZURITE_KEY,
        }  # fmt: skip
        options = [
            "--linuxkit-gcp-project=proj", "--linuxkit-gcp-bucket=images", "--linuxkit-gcp-family=linuxkit",
            f"--linuxkit-gcp-storage-endpoint={gcs}", f"--linuxkit-gcp-compute-endpoint={compute.url}",
            "--linuxkit-aws-bucket=images", "--linuxkit-aws-region=us-east-1", f"--linuxkit-aws-endpoint={moto}",
            f"--linuxkit-azure-account-url={account}", "--linuxkit-azure-container=images",
        ]  # fmt: skip
        yield repo, options, env, compute, gcs, moto


def test_publish_to_gcp_and_azure_then_again_uploads_nothing(world) -> None:  # type: ignore[no-untyped-def]
    repo, options, env, compute, _, _ = world
    first, first_s = publish(repo, "tests/clouds:cloudy", options, env)
    assert first.returncode == 0, first.stderr[-4000:]
    out = first.stdout + first.stderr
    assert (
        "gcp: //tests/clouds:cloudy: gs://images/cloudy.img.tar.gz (uploaded) -> projects/proj/global/images/cloudy-"
        in out
    )
    assert (
        "azure: //tests/clouds:cloudy: http://127.0.0.1:" in out
        and "cloudy-azure.vhd (uploaded)" in out
    )
    report = json.loads((repo / "dist" / "clouds" / "cloudy.json").read_text())
    assert {r["cloud"] for r in report} == {"gcp", "azure"} and all(r["uploaded"] for r in report)
    inserts = [b for m, p, b in compute.requests if m == "POST" and p.endswith("/global/images")]
    assert len(inserts) == 1 and inserts[0]["rawDisk"]["source"].endswith(
        "/images/cloudy.img.tar.gz"
    )
    # no credential reaches the log
    assert AZURITE_KEY not in out and "publish-test-secret" not in out

    second, second_s = publish(repo, "tests/clouds:cloudy", options, env)
    assert second.returncode == 0, second.stderr[-4000:]
    assert (second.stdout + second.stderr).count("(unchanged, nothing uploaded)") == 2
    assert (
        len([1 for m, p, _ in compute.requests if m == "POST" and p.endswith("/global/images")])
        == 1
    )
    report = json.loads((repo / "dist" / "clouds" / "cloudy.json").read_text())
    assert not any(r["uploaded"] for r in report)
    print(f"\npublish gcp+azure: first {first_s:.1f} s, unchanged second {second_s:.1f} s")


def test_aws_publish_fails_at_the_import_in_one_line_and_keeps_nothing(world) -> None:  # type: ignore[no-untyped-def]
    import boto3

    repo, options, env, _, _, moto = world
    result, _ = publish(repo, "tests/clouds:cloudy-aws", options, env)
    assert result.returncode != 0
    assert (
        "aws: //tests/clouds:cloudy-aws: failed while importing the snapshot" in result.stderr
    ), result.stderr[-3000:]
    assert "publish-test-secret" not in result.stdout + result.stderr
    s3 = boto3.session.Session(
        region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    ).client("s3", endpoint_url=moto)
    assert "Contents" not in s3.list_objects_v2(Bucket="images")
