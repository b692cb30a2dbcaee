"""A small OCI distribution (registry v2 API) client, and image references.

The client speaks plain HTTP only to loopback registries (or when told to);
credentials come from `credentials.credentials_for`. Every pulled byte is
checked against its digest.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Mapping

from linuxkit_rules.core.errors import RegistryError
from linuxkit_rules.core.oci.credentials import credentials_for

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_TYPES = (MEDIA_INDEX, MEDIA_MANIFEST, _DOCKER_LIST, _DOCKER_MANIFEST)
INDEX_TYPES = (MEDIA_INDEX, _DOCKER_LIST)

_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_REPO_RE = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class Reference:
    """`registry/repository[:tag][@digest]`; the registry part is required here."""

    registry: str
    repository: str
    tag: str = ""
    digest: str = ""

    @property
    def reference(self) -> str:
        """What goes after /manifests/: the digest when there is one, else the tag."""
        return self.digest or self.tag

    def __str__(self) -> str:
        out = f"{self.registry}/{self.repository}"
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def parse_reference(text: str, what: str = "image reference") -> Reference:
    """Parse `host[:port]/repo/name[:tag][@sha256:...]`; a RegistryError names what is wrong."""
    allowed = (
        "expected REGISTRY/REPOSITORY[:TAG][@sha256:HEX], e.g. 127.0.0.1:5000/linuxkit/sshd:v1"
    )
    rest, _, digest = text.partition("@")
    if digest and not _DIGEST_RE.match(digest):
        raise RegistryError(f"{what} {text!r}: digest {digest!r} is not sha256:<64 hex>; {allowed}")
    registry, slash, path = rest.partition("/")
    if not slash or not registry or not path:
        raise RegistryError(f"{what} {text!r} names no registry; {allowed}")
    repository, tag = path, ""
    if ":" in path.rsplit("/", 1)[-1]:
        repository, tag = path.rsplit(":", 1)
        if not _TAG_RE.match(tag):
            raise RegistryError(f"{what} {text!r}: tag {tag!r} is not a valid tag; {allowed}")
    if not _REPO_RE.match(repository):
        raise RegistryError(
            f"{what} {text!r}: repository {repository!r} must be lowercase path components; {allowed}"
        )
    return Reference(registry, repository, tag, digest)


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _is_loopback(registry: str) -> bool:
    host = registry.rsplit(":", 1)[0] if not registry.endswith("]") else registry
    return host in ("localhost", "127.0.0.1", "[::1]") or host.startswith("127.")


@dataclass
class RegistryClient:
    """One registry. Plain HTTP for loopback hosts and those in `insecure`, else HTTPS."""

    registry: str
    env: Mapping[str, str] = field(default_factory=dict)
    insecure: bool = False
    timeout: float = 60.0
    requests_made: list[tuple[str, str, int]] = field(default_factory=list)
    _authorization: str = ""

    @property
    def base(self) -> str:
        scheme = "http" if self.insecure or _is_loopback(self.registry) else "https"
        return f"{scheme}://{self.registry}"

    def _open(self, method: str, url: str, headers: Mapping[str, str], data: bytes | None):
        request = urllib.request.Request(url, data=data, method=method, headers=dict(headers))
        if self._authorization:
            request.add_header("Authorization", self._authorization)
        return urllib.request.urlopen(request, timeout=self.timeout)

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        ok: tuple[int, ...] = (200,),
        what: str = "",
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Send one request (answering one auth challenge); return status, headers, body.

        A status outside `ok` (404 included, when not listed) is a RegistryError
        with one line naming the registry, what was asked and why it failed."""
        url = path if path.startswith(("http://", "https://")) else self.base + path
        what = what or f"{method} {path}"
        for attempt in (1, 2):
            try:
                with self._open(method, url, headers or {}, data) as response:
                    status, reply, body = response.status, dict(response.headers), response.read()
            except urllib.error.HTTPError as e:
                status, reply, body = e.code, dict(e.headers or {}), e.read() or b""
            except (urllib.error.URLError, socket.timeout, ConnectionError, OSError) as e:
                reason = getattr(e, "reason", e)
                raise RegistryError(
                    f"registry {self.registry}: {what}: cannot connect ({reason})"
                ) from None
            self.requests_made.append((method, path, status))
            if status == 401 and attempt == 1 and self._authenticate(reply, what):
                continue
            break
        if status not in ok:
            raise RegistryError(f"registry {self.registry}: {what}: {_explain(status, body)}")
        return status, reply, body

    def _authenticate(self, headers: Mapping[str, str], what: str) -> bool:
        """Answer a 401 challenge (Basic or Bearer token); False when there is nothing to try."""
        challenge = next((v for k, v in headers.items() if k.lower() == "www-authenticate"), "")
        creds = credentials_for(self.registry, self.env)
        scheme, _, params_text = challenge.partition(" ")
        if scheme.lower() == "basic":
            if creds is None:
                return False
            self._authorization = (
                "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
            )
            return True
        if scheme.lower() != "bearer":
            return False
        params = dict(re.findall(r'(\w+)="([^"]*)"', params_text))
        if "realm" not in params:
            return False
        query = {k: params[k] for k in ("service", "scope") if k in params}
        url = params["realm"] + ("?" + urllib.parse.urlencode(query) if query else "")
        token_request = urllib.request.Request(url)
        if creds is not None:
            token_request.add_header(
                "Authorization",
                "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode(),
            )
        try:
            with urllib.request.urlopen(token_request, timeout=self.timeout) as response:
                doc = json.loads(response.read())
        except urllib.error.HTTPError as e:
            raise RegistryError(
                f"registry {self.registry}: {what}: the token service refused "
                f"({_explain(e.code, e.read() or b'')})"
            ) from None
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise RegistryError(
                f"registry {self.registry}: {what}: token service failed ({e})"
            ) from None
        token = doc.get("token") or doc.get("access_token")
        if not token:
            return False
        self._authorization = f"Bearer {token}"
        return True

    # -- blobs -------------------------------------------------------------

    def has_blob(self, repository: str, digest: str) -> bool:
        status, _, _ = self.request(
            "HEAD",
            f"/v2/{repository}/blobs/{digest}",
            ok=(200, 404),
            what=f"check blob {digest[:19]}",
        )
        return status == 200

    def upload_blob(self, repository: str, digest: str, data: bytes) -> None:
        what = f"upload blob {digest[:19]} to {repository}"
        _, headers, _ = self.request(
            "POST", f"/v2/{repository}/blobs/uploads/", ok=(202,), what=what
        )
        location = next((v for k, v in headers.items() if k.lower() == "location"), "")
        if not location:
            raise RegistryError(
                f"registry {self.registry}: {what}: no upload Location in the reply"
            )
        location = urllib.parse.urljoin(self.base + "/", location)
        sep = "&" if "?" in location else "?"
        self.request(
            "PUT",
            f"{location}{sep}digest={urllib.parse.quote(digest)}",
            headers={"Content-Type": "application/octet-stream"},
            data=data,
            ok=(201, 204),
            what=what,
        )

    def get_blob(self, repository: str, digest: str) -> bytes:
        _, _, body = self.request(
            "GET", f"/v2/{repository}/blobs/{digest}", what=f"get blob {digest[:19]}"
        )
        if sha256_digest(body) != digest:
            raise RegistryError(
                f"registry {self.registry}: blob {digest} of {repository} does not match its digest "
                f"(got {sha256_digest(body)})"
            )
        return body

    # -- manifests ---------------------------------------------------------

    def has_manifest(self, repository: str, reference: str, digest: str) -> bool:
        """True when `reference` (a tag or digest) already names exactly `digest`."""
        status, headers, _ = self.request(
            "HEAD",
            f"/v2/{repository}/manifests/{reference}",
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
            ok=(200, 404),
            what=f"check manifest {reference}",
        )
        found = next((v for k, v in headers.items() if k.lower() == "docker-content-digest"), "")
        return status == 200 and found == digest

    def put_manifest(self, repository: str, reference: str, media_type: str, data: bytes) -> None:
        self.request(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            headers={"Content-Type": media_type},
            data=data,
            ok=(201, 204),
            what=f"put manifest {repository}:{reference}",
        )

    def get_manifest(self, repository: str, reference: str) -> tuple[str, bytes]:
        _, headers, body = self.request(
            "GET",
            f"/v2/{repository}/manifests/{reference}",
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
            what=f"get manifest {repository}:{reference}",
        )
        media_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        media_type = media_type.split(";")[0].strip()
        if reference.startswith("sha256:") and sha256_digest(body) != reference:
            raise RegistryError(
                f"registry {self.registry}: manifest {repository}@{reference} does not match its digest "
                f"(got {sha256_digest(body)})"
            )
        if media_type not in MANIFEST_TYPES:
            try:
                media_type = str(json.loads(body).get("mediaType", media_type))
            except ValueError:
                pass
        return media_type, body


def _explain(status: int, body: bytes) -> str:
    meaning = {
        401: "HTTP 401 unauthorized (give credentials in ~/.docker/config.json or REGISTRY_AUTH)",
        403: "HTTP 403 forbidden (these credentials may not push/pull here)",
        404: "HTTP 404 not found (wrong repository, or it does not exist)",
    }.get(status, f"HTTP {status}")
    try:
        errors = json.loads(body).get("errors") or []
        detail = "; ".join(f"{e.get('code', '')}: {e.get('message', '')}" for e in errors)
    except (ValueError, AttributeError):
        detail = ""
    return f"{meaning}: {detail}" if detail else meaning


@dataclass(frozen=True)
class Blob:
    digest: str
    data: bytes
