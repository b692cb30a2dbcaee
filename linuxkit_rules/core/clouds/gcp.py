"""Google Cloud: the `gcp` tarball into a Cloud Storage bucket, then a Compute
Engine image made from it (`rawDisk.source`), as `linuxkit push gcp` does.

Credentials come from google-auth's default chain only
(`GOOGLE_APPLICATION_CREDENTIALS`, gcloud's application-default login, the
metadata server). `storage_endpoint` and `compute_endpoint` point the clients
at other servers (an emulator).
"""
from __future__ import annotations

import base64
import json
import os
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

CLOUD = "gcp"
GCS_URL = "https://storage.googleapis.com"


def description(sha256: str) -> str:
    """What marks an image as made from these bytes (a second publish compares it)."""
    return f"linuxkit-rules sha256:{sha256}"


def image_resource(name: str, family: str, bucket: str, obj: str, sha256: str) -> dict[str, Any]:
    """The images.insert body, in the Compute Engine API's JSON field names."""
    body: dict[str, Any] = {
        "name": name,
        "description": description(sha256),
        "rawDisk": {"source": f"{GCS_URL}/{bucket}/{obj}"},
    }
    if family:
        body["family"] = family
    return body


def _clients(m: Mapping[str, Any], target: str) -> tuple[Any, Any]:
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError
    from google.cloud import compute_v1, storage  # type: ignore[attr-defined]

    try:
        credentials, _ = google.auth.default(
            scopes=["https://www.googleapis.com/auth/cloud-platform"]
        )
    except DefaultCredentialsError:
        raise CloudError(
            CLOUD,
            target,
            "no credentials found",
            "set GOOGLE_APPLICATION_CREDENTIALS to a key file or run "
            "`gcloud auth application-default login`",
        ) from None
    project = m["project"]
    storage_options = {"api_endpoint": m["storage_endpoint"]} if m.get("storage_endpoint") else None
    compute_options = {"api_endpoint": m["compute_endpoint"]} if m.get("compute_endpoint") else None
    return (
        storage.Client(project=project, credentials=credentials, client_options=storage_options),
        compute_v1.ImagesClient(
            credentials=credentials, transport="rest", client_options=compute_options
        ),
    )


def publish_gcp(
    m: Mapping[str, Any], clients: Callable[[Mapping[str, Any], str], tuple[Any, Any]] = _clients
) -> Published:
    """Upload `file` unless the object already holds it, then create the image
    unless one of that name was made from the same bytes."""
    from google.api_core import exceptions as gexc
    from google.auth.exceptions import RefreshError
    from google.cloud.compute_v1 import Image

    target, path = m["target"], m["file"]
    project = required(m, "project", CLOUD, target, "[linuxkit-gcp].project")
    bucket_name = required(m, "bucket", CLOUD, target, "[linuxkit-gcp].bucket")
    sha256, md5 = file_digests(path)
    obj = os.path.basename(path)
    name = image_name(m.get("image") or m["name"], sha256)
    result = Published(CLOUD, target, path, f"gs://{bucket_name}/{obj}")
    storage_client, images = clients(m, target)
    undo: list[Callable[[], Any]] = []
    step = "reading the bucket"
    try:
        bucket = storage_client.get_bucket(bucket_name)
        blob = bucket.get_blob(obj)
        if blob is None or blob.md5_hash != base64.b64encode(bytes.fromhex(md5)).decode():
            step = "uploading"
            blob = bucket.blob(obj)
            blob.metadata = {"sha256": sha256}
            # `retries: 0` (tests) fails at once instead of retrying for two minutes.
            retry = {} if m.get("retries") is None or m["retries"] else {"retry": None}
            blob.upload_from_filename(
                path, content_type="application/gzip", checksum="md5", **retry
            )
            result.uploaded = True
            undo.append(lambda: blob.delete())
        step = "looking up the image"
        try:
            existing = images.get(project=project, image=name)
        except gexc.NotFound:
            existing = None
        if existing is not None:
            if existing.description != description(sha256):
                raise CloudError(
                    CLOUD,
                    target,
                    f"image {name} already exists in project {project}, made from other content",
                    f"delete it (`gcloud compute images delete {name}`) and publish again",
                )
        else:
            step = "creating the image"
            body = Image.from_json(
                json.dumps(image_resource(name, m.get("family") or "", bucket_name, obj, sha256))
            )
            operation = images.insert(project=project, image_resource=body)
            undo.append(lambda: images.delete(project=project, image=name).result())
            operation.result(timeout=float(m.get("timeout") or 1800))
            result.created.append(name)
    except CloudError:
        cleanup(undo)
        raise
    except Exception as e:
        left = cleanup(undo)
        raise _error(
            e, target, step, bucket_name, project, name, gexc, RefreshError, left
        ) from None
    result.image = f"projects/{project}/global/images/{name}"
    return result


def _error(  # type: ignore[no-untyped-def]
    e: Exception, target, step, bucket, project, name, gexc, refresh_error, left: list[str]
) -> CloudError:
    kept = f" (could not remove: {', '.join(left)})" if left else ""
    if isinstance(e, refresh_error):
        return CloudError(
            CLOUD,
            target,
            f"the credentials were refused while {step}{kept}",
            "check GOOGLE_APPLICATION_CREDENTIALS or log in again",
        )
    if isinstance(e, gexc.Forbidden):
        return CloudError(
            CLOUD,
            target,
            f"access denied (403) while {step}{kept}",
            f"grant the account storage.objects.create on gs://{bucket} and compute.images.create "
            f"in project {project}",
        )
    if isinstance(e, gexc.NotFound) and step == "reading the bucket":
        return CloudError(
            CLOUD,
            target,
            f"bucket gs://{bucket} does not exist",
            "create it (`gcloud storage buckets create`) or set [linuxkit-gcp].bucket",
        )
    if isinstance(e, gexc.Conflict):
        return CloudError(
            CLOUD,
            target,
            f"image {name} already exists in project {project}{kept}",
            f"delete it (`gcloud compute images delete {name}`) and publish again",
        )
    return unexpected_error(CLOUD, target, step, e, kept)
