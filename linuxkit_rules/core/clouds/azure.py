"""Azure: the `azure` fixed VHD as a page blob, sending only the 512-byte
pages that hold data (the rest of a page blob reads as zeros).

Credentials come from the storage environment variables the Azure CLI reads:
`AZURE_STORAGE_KEY` (with `AZURE_STORAGE_ACCOUNT`, default: the first label
of the account URL's host, or its path for an emulator), else
`AZURE_STORAGE_SAS_TOKEN`, else `AZURE_STORAGE_CONNECTION_STRING`.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Mapping
from urllib.parse import urlparse

from linuxkit_rules.core.clouds.common import (
    CloudError,
    Published,
    cleanup,
    data_ranges,
    file_digests,
    required,
    unexpected_error,
)

CLOUD = "azure"
PAGE = 512
MAX_PAGES_PUT = 4 << 20  # the Put Page limit


def account_name(url: str) -> str:
    """`https://NAME.blob.core.windows.net` -> NAME; an emulator's
    `http://127.0.0.1:10000/NAME` -> NAME."""
    parsed = urlparse(url)
    path = parsed.path.strip("/")
    if path:
        return path.split("/")[0]
    return (parsed.hostname or "").split(".")[0]


def credential(account_url: str, env: Mapping[str, str]) -> Any:
    if env.get("AZURE_STORAGE_KEY"):
        return {
            "account_name": env.get("AZURE_STORAGE_ACCOUNT") or account_name(account_url),
            "account_key": env["AZURE_STORAGE_KEY"],
        }
    return env.get("AZURE_STORAGE_SAS_TOKEN") or None


def _container(m: Mapping[str, Any], target: str) -> Any:
    from azure.storage.blob import BlobServiceClient

    url = m.get("account_url") or ""
    container = required(m, "container", CLOUD, target, "[linuxkit-azure].container")
    env = os.environ
    cred = credential(url, env) if url else None
    retries: dict[str, Any] = {} if m.get("retries") is None else {"retry_total": int(m["retries"])}
    if cred is not None:
        service = BlobServiceClient(account_url=url, credential=cred, **retries)
    elif env.get("AZURE_STORAGE_CONNECTION_STRING"):
        service = BlobServiceClient.from_connection_string(
            env["AZURE_STORAGE_CONNECTION_STRING"], **retries
        )
    else:
        raise CloudError(
            CLOUD,
            target,
            "no credentials found" if url else "no account_url is set",
            "set AZURE_STORAGE_KEY (and AZURE_STORAGE_ACCOUNT) or AZURE_STORAGE_SAS_TOKEN, with "
            "[linuxkit-azure].account_url; or AZURE_STORAGE_CONNECTION_STRING",
        )
    return service.get_container_client(container)


def publish_azure(
    m: Mapping[str, Any], container_client: Callable[[Mapping[str, Any], str], Any] = _container
) -> Published:
    """Upload unless the blob already holds the same bytes."""
    from azure.core import exceptions as aexc

    target, path = m["target"], m["file"]
    size = os.path.getsize(path)
    if size % PAGE:
        raise CloudError(
            CLOUD,
            target,
            f"{path} is {size} bytes, not whole 512-byte pages",
            "publish the `azure` format",
        )
    sha256, _ = file_digests(path)
    container = container_client(m, target)
    blob = container.get_blob_client(os.path.basename(path))
    result = Published(CLOUD, target, path, blob.url)
    undo: list[Callable[[], Any]] = []
    step = "reading the container"
    try:
        container.get_container_properties()
        try:
            props = blob.get_blob_properties()
        except aexc.ResourceNotFoundError:
            props = None
        if (
            props is not None
            and (props.metadata or {}).get("sha256") == sha256
            and props.size == size
        ):
            return result
        step = "uploading"
        blob.create_page_blob(size)
        undo.append(lambda: blob.delete_blob())
        for offset, data in data_ranges(path, PAGE, MAX_PAGES_PUT):
            blob.upload_page(data, offset=offset, length=len(data))
        # Marked complete last: an interrupted upload never looks finished.
        blob.set_blob_metadata({"sha256": sha256})
        result.uploaded = True
    except Exception as e:
        left = cleanup(undo)
        raise _error(e, target, step, m.get("container", ""), aexc, left) from None
    return result


def _error(
    e: Exception, target: str, step: str, container: str, aexc: Any, left: list[str]
) -> CloudError:
    kept = f" (could not remove: {', '.join(left)})" if left else ""
    if isinstance(e, aexc.ClientAuthenticationError) or getattr(e, "status_code", None) == 403:
        return CloudError(
            CLOUD,
            target,
            f"access denied (403) while {step}{kept}",
            f"check AZURE_STORAGE_KEY / the SAS token: it needs write access to container {container}",
        )
    if isinstance(e, aexc.ResourceNotFoundError) and step == "reading the container":
        return CloudError(
            CLOUD,
            target,
            f"container {container} does not exist",
            "create it (`az storage container create`) or set [linuxkit-azure].container",
        )
    return unexpected_error(CLOUD, target, step, e, kept)
