"""AWS: the `aws` raw disk into S3, imported as an EBS snapshot, then
registered as an AMI (x86_64, legacy BIOS boot, ENA).

Credentials come from botocore's default chain only (`AWS_ACCESS_KEY_ID` and
friends, `~/.aws/credentials`, `AWS_PROFILE`, instance roles). `endpoint`
points both clients at another server (moto).
"""
from __future__ import annotations

import os
import time
from typing import Any, Callable, Mapping

from linuxkit_rules.core.clouds.common import (
    CloudError,
    Published,
    cleanup,
    file_digests,
    image_name,
    required,
    unexpected_error,
)

CLOUD = "aws"
ROOT_DEVICE = "/dev/xvda"


def description(sha256: str) -> str:
    return f"linuxkit-rules sha256:{sha256}"


def import_request(bucket: str, key: str, sha256: str) -> dict[str, Any]:
    """EC2 ImportSnapshot's parameters for a raw disk in S3."""
    return {
        "Description": description(sha256),
        "DiskContainer": {
            "Description": key,
            "Format": "RAW",
            "UserBucket": {"S3Bucket": bucket, "S3Key": key},
        },
    }


def register_request(name: str, snapshot_id: str, sha256: str) -> dict[str, Any]:
    """EC2 RegisterImage's parameters: the `aws` disk boots with SeaBIOS-style
    legacy BIOS on an HVM instance; ENA for current instance types."""
    return {
        "Name": name,
        "Description": description(sha256),
        "Architecture": "x86_64",
        "BootMode": "legacy-bios",
        "EnaSupport": True,
        "VirtualizationType": "hvm",
        "RootDeviceName": ROOT_DEVICE,
        "BlockDeviceMappings": [
            {
                "DeviceName": ROOT_DEVICE,
                "Ebs": {
                    "SnapshotId": snapshot_id,
                    "DeleteOnTermination": True,
                    "VolumeType": "gp3",
                },
            }
        ],
    }


def _clients(m: Mapping[str, Any], target: str) -> tuple[Any, Any, Any]:
    import boto3

    session = boto3.session.Session(region_name=m.get("region") or None)
    if session.get_credentials() is None:
        raise CloudError(
            CLOUD,
            target,
            "no credentials found",
            "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE (~/.aws/credentials)",
        )
    if not session.region_name:
        raise CloudError(
            CLOUD, target, "no region is set", "set [linuxkit-aws].region or AWS_DEFAULT_REGION"
        )
    endpoint = m.get("endpoint") or None
    s3 = session.client("s3", endpoint_url=endpoint)
    ec2 = session.client("ec2", endpoint_url=endpoint)
    return s3, ec2, ec2


def wait_for_snapshot(importer: Any, task_id: str, timeout: float, poll: float = 10) -> str:
    """The snapshot id once the import task completes."""
    deadline = time.monotonic() + timeout
    while True:
        tasks = importer.describe_import_snapshot_tasks(ImportTaskIds=[task_id])
        detail = tasks["ImportSnapshotTasks"][0]["SnapshotTaskDetail"]
        status = detail.get("Status")
        if status == "completed":
            return str(detail["SnapshotId"])
        if status in ("deleted", "deleting") or detail.get("StatusMessage", "").startswith("Error"):
            raise RuntimeError(f"snapshot import {task_id} failed: {detail.get('StatusMessage')}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"snapshot import {task_id} still {status}")
        time.sleep(poll)


def publish_aws(
    m: Mapping[str, Any],
    clients: Callable[[Mapping[str, Any], str], tuple[Any, Any, Any]] = _clients,
) -> Published:
    """Upload unless S3 holds the same bytes, then import and register unless
    an AMI of that name was made from them. `clients` gives (s3, ec2, the
    client that runs the snapshot import)."""
    from botocore.exceptions import ClientError, NoCredentialsError

    target, path = m["target"], m["file"]
    bucket = required(m, "bucket", CLOUD, target, "[linuxkit-aws].bucket")
    sha256, _ = file_digests(path)
    key = os.path.basename(path)
    name = image_name(m.get("image") or m["name"], sha256, limit=128)
    result = Published(CLOUD, target, path, f"s3://{bucket}/{key}")
    s3, ec2, importer = clients(m, target)
    undo: list[Callable[[], Any]] = []
    step = "reading the bucket"
    try:
        s3.head_bucket(Bucket=bucket)
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
        except ClientError as e:
            if e.response["Error"]["Code"] not in ("404", "NoSuchKey"):
                raise
            head = None
        if head is None or head.get("Metadata", {}).get("sha256") != sha256:
            step = "uploading"
            s3.upload_file(path, bucket, key, ExtraArgs={"Metadata": {"sha256": sha256}})
            result.uploaded = True
            undo.append(lambda: s3.delete_object(Bucket=bucket, Key=key))
        step = "looking up the AMI"
        found = ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": [name]}])
        if found["Images"]:
            existing = found["Images"][0]
            if existing.get("Description") != description(sha256):
                raise CloudError(
                    CLOUD,
                    target,
                    f"AMI {name} ({existing['ImageId']}) already exists, made from other content",
                    "deregister it (`aws ec2 deregister-image`) and publish again",
                )
            result.image = existing["ImageId"]
            return result
        step = "importing the snapshot"
        task = importer.import_snapshot(**import_request(bucket, key, sha256))
        task_id = task["ImportTaskId"]
        undo.append(lambda: importer.cancel_import_task(ImportTaskId=task_id))
        snapshot = wait_for_snapshot(
            importer, task_id, float(m.get("timeout") or 3600), float(m.get("poll") or 10)
        )
        undo[-1] = lambda: ec2.delete_snapshot(SnapshotId=snapshot)
        step = "registering the AMI"
        result.image = ec2.register_image(**register_request(name, snapshot, sha256))["ImageId"]
        result.created += [snapshot, result.image]
    except CloudError:
        cleanup(undo)
        raise
    except NoCredentialsError:
        cleanup(undo)
        raise CloudError(
            CLOUD, target, "no credentials found", "set AWS_ACCESS_KEY_ID or AWS_PROFILE"
        ) from None
    except Exception as e:
        left = cleanup(undo)
        raise _error(e, target, step, bucket, name, left) from None
    return result


def _code(e: Exception) -> str:
    response = getattr(e, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _error(
    e: Exception, target: str, step: str, bucket: str, name: str, left: list[str]
) -> CloudError:
    code = _code(e)
    kept = f" (could not remove: {', '.join(left)})" if left else ""
    if code in ("403", "AccessDenied", "UnauthorizedOperation", "InvalidAccessKeyId",
                "SignatureDoesNotMatch", "AuthFailure"):  # fmt: skip
        return CloudError(
            CLOUD,
            target,
            f"access denied ({code}) while {step}{kept}",
            f"check the credentials and grant s3:PutObject on {bucket}, ec2:ImportSnapshot and "
            "ec2:RegisterImage (the vmimport role)",
        )
    if step == "reading the bucket" and code in ("404", "NoSuchBucket"):
        return CloudError(
            CLOUD,
            target,
            f"bucket s3://{bucket} does not exist",
            "create it (`aws s3 mb`) or set [linuxkit-aws].bucket",
        )
    if code == "InvalidAMIName.Duplicate":
        return CloudError(
            CLOUD,
            target,
            f"AMI {name} already exists{kept}",
            "deregister it (`aws ec2 deregister-image`) and publish again",
        )
    return unexpected_error(CLOUD, target, step, e, kept)
