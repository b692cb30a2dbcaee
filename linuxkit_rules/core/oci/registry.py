"""A small OCI distribution (registry v2 API) client, and image references.

The client speaks plain HTTP only to loopback registries (or when told to);
credentials come from `credentials.credentials_for`. Every pulled byte is
checked against its digest.
"""
from __future__ import annotations

import base64
import hashlib
import http.client
import ipaddress
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

# The most a manifest, a token reply or an error body may hold; a blob may hold
# at most MAX_BLOB_BYTES (a layer is read into memory whole).
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_BLOB_BYTES = 2 * 1024 * 1024 * 1024
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


def check_digest(digest: object, what: str) -> str:
    """`digest` when it is `sha256:<64 lowercase hex>`, else a one-line RegistryError."""
    if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
        shown = repr(digest)[:80]
        raise RegistryError(f"{what}: digest {shown} is not sha256:<64 lowercase hex>")
    return digest


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _host_of(registry: str) -> str:
    """The host part of `host[:port]` or `[v6]:port`, without brackets."""
    if registry.startswith("["):
        return registry[1:].partition("]")[0]
    return registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry


def is_loopback(registry: str) -> bool:
    """True for `localhost` and literal loopback addresses (127.0.0.0/8, ::1) only:
    a name such as `127.example.com` is not loopback."""
    host = _host_of(registry)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follows redirects, but never from https to http, and drops the credentials
    whenever the scheme or the host changes (blob storage on another host is normal;
    handing it the registry password is not)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        old, new = _origin(req.full_url), _origin(urllib.parse.urljoin(req.full_url, newurl))
        if old[0] == "https" and new[0] != "https":
            raise RegistryError(
                f"{req.full_url.split('?')[0]}: refused a redirect from https to {new[0]}://{new[1]}"
            )
        out = super().redirect_request(req, fp, code, msg, headers, newurl)
        if out is not None and old != new:
            for name in list(out.headers):
                if name.lower() == "authorization":
                    del out.headers[name]
            out.unredirected_hdrs.pop("Authorization", None)
        return out


_OPENER = urllib.request.build_opener(_RedirectHandler)


def _read_limited(response: object, limit: int, what: str) -> bytes:
    """The whole body, at most `limit` bytes; a short or oversized body is a RegistryError."""
    length = response.headers.get("Content-Length")  # type: ignore[attr-defined]
    if length is not None and length.isdigit() and int(length) > limit:
        raise RegistryError(
            f"{what}: the reply announces {length} bytes, more than the {limit} allowed"
        )
    try:
        body = response.read(limit + 1)  # type: ignore[attr-defined]
    except http.client.IncompleteRead as e:
        raise RegistryError(
            f"{what}: the connection closed after {len(e.partial)} bytes of the reply (truncated body)"
        ) from None
    except (http.client.HTTPException, OSError) as e:
        raise RegistryError(f"{what}: reading the reply failed ({type(e).__name__}: {e})") from None
    if len(body) > limit:
        raise RegistryError(f"{what}: the reply is larger than the {limit} bytes allowed")
    if length is not None and length.isdigit() and len(body) != int(length):
        raise RegistryError(
            f"{what}: the reply has {len(body)} bytes, its Content-Length says {length} (truncated body)"
        )
    return body


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
        scheme = "http" if self.insecure or is_loopback(self.registry) else "https"
        return f"{scheme}://{self.registry}"

    def _open(self, method: str, url: str, headers: Mapping[str, str], data: bytes | None):
        """Send one request; the credentials go only to the registry's own origin."""
        base, target = _origin(self.base), _origin(url)
        if base[0] == "https" and target[0] != "https":
            raise RegistryError(
                f"registry {self.registry}: refused to send a request to {target[0]}://{target[1]} "
                "(the registry speaks https)"
            )
        request = urllib.request.Request(url, data=data, method=method, headers=dict(headers))
        if self._authorization and target == base:
            request.add_header("Authorization", self._authorization)
        return _OPENER.open(request, timeout=self.timeout)

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        ok: tuple[int, ...] = (200,),
        what: str = "",
        limit: int = MAX_MANIFEST_BYTES,
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Send one request (answering one auth challenge); return status, headers, body.

        A status outside `ok` (404 included, when not listed) is a RegistryError
        with one line naming the registry, what was asked and why it failed."""
        url = path if path.startswith(("http://", "https://")) else self.base + path
        what = what or f"{method} {path}"
        where = f"registry {self.registry}: {what}"
        for attempt in (1, 2):
            try:
                with self._open(method, url, headers or {}, data) as response:
                    status, reply = response.status, dict(response.headers)
                    body = b"" if method == "HEAD" else _read_limited(response, limit, where)
            except urllib.error.HTTPError as e:
                status, reply = e.code, dict(e.headers or {})
                try:
                    body = e.read(MAX_MANIFEST_BYTES) or b""
                except (http.client.HTTPException, OSError):
                    body = b""
            except RegistryError:
                raise
            except http.client.HTTPException as e:
                raise RegistryError(f"{where}: bad reply ({type(e).__name__}: {e})") from None
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
        realm = _origin(url)
        if realm[0] not in ("http", "https") or (
            realm[0] == "http" and _origin(self.base)[0] == "https"
        ):
            raise RegistryError(
                f"registry {self.registry}: {what}: refused the token service {realm[0]}://{realm[1]} "
                "(the registry speaks https; its token service must too)"
            )
        token_request = urllib.request.Request(url)
        if creds is not None:
            token_request.add_header(
                "Authorization",
                "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode(),
            )
        try:
            with _OPENER.open(token_request, timeout=self.timeout) as response:
                doc = json.loads(
                    _read_limited(response, MAX_MANIFEST_BYTES, f"registry {self.registry}: {what}")
                )
        except urllib.error.HTTPError as e:
            raise RegistryError(
                f"registry {self.registry}: {what}: the token service refused "
                f"({_explain(e.code, e.read(MAX_MANIFEST_BYTES) or b'')})"
            ) from None
        except RegistryError:
            raise
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
            raise RegistryError(
                f"registry {self.registry}: {what}: token service failed ({type(e).__name__})"
            ) from None
        token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
        if not token or not isinstance(token, str):
            return False
        self._authorization = f"Bearer {token}"
        return True

    # -- blobs -------------------------------------------------------------

    def has_blob(self, repository: str, digest: str) -> bool:
        check_digest(digest, f"registry {self.registry}: blob of {repository}")
        status, _, _ = self.request(
            "HEAD",
            f"/v2/{repository}/blobs/{digest}",
            ok=(200, 404),
            what=f"check blob {digest[:19]}",
        )
        return status == 200

    def upload_blob(self, repository: str, digest: str, data: bytes) -> None:
        check_digest(digest, f"registry {self.registry}: blob of {repository}")
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

    def get_blob(self, repository: str, digest: str, size: int | None = None) -> bytes:
        """The blob `digest` names, verified against its digest and, when given, its size."""
        check_digest(digest, f"registry {self.registry}: blob of {repository}")
        what = f"get blob {digest[:19]}"
        if size is not None and not (0 <= size <= MAX_BLOB_BYTES):
            raise RegistryError(
                f"registry {self.registry}: {what}: size {size} is outside 0..{MAX_BLOB_BYTES}"
            )
        limit = MAX_BLOB_BYTES if size is None else size
        _, _, body = self.request("GET", f"/v2/{repository}/blobs/{digest}", what=what, limit=limit)
        _verify(self.registry, f"blob {digest} of {repository}", digest, size, body)
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

    def get_manifest(
        self, repository: str, reference: str, size: int | None = None
    ) -> tuple[str, bytes]:
        """A manifest by tag or digest; by digest it is verified (and its size, when given)."""
        if reference.startswith("sha256:") or "@" in reference or ":" in reference:
            check_digest(reference, f"registry {self.registry}: manifest of {repository}")
        _, headers, body = self.request(
            "GET",
            f"/v2/{repository}/manifests/{reference}",
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
            what=f"get manifest {repository}:{reference}",
            limit=MAX_MANIFEST_BYTES if size is None else min(size, MAX_MANIFEST_BYTES),
        )
        media_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        media_type = media_type.split(";")[0].strip()
        if reference.startswith("sha256:"):
            _verify(self.registry, f"manifest {repository}@{reference}", reference, size, body)
        if media_type not in MANIFEST_TYPES:
            try:
                media_type = str(json.loads(body).get("mediaType", media_type))
            except ValueError:
                pass
        return media_type, body


def _verify(registry: str, what: str, digest: str, size: int | None, body: bytes) -> None:
    if size is not None and len(body) != size:
        raise RegistryError(
            f"registry {registry}: {what} has {len(body)} bytes, its descriptor says {size}"
        )
    if sha256_digest(body) != digest:
        raise RegistryError(
            f"registry {registry}: {what} does not match its digest (got {sha256_digest(body)})"
        )


def _explain(status: int, body: bytes) -> str:
    meaning = {
        401: "HTTP 401 unauthorized (give credentials in ~/.docker/config.json or REGISTRY_AUTH)",
        403: "HTTP 403 forbidden (these credentials may not push/pull here)",
        404: "HTTP 404 not found (wrong repository, or it does not exist)",
    }.get(status, f"HTTP {status}")
    try:
        errors = json.loads(body).get("errors") or []
        detail = "; ".join(f"{e.get('code', '')}: {e.get('message', '')}" for e in errors)
    except (ValueError, AttributeError, TypeError):
        detail = ""
    # The server's words, on one line and short: they go into a one-line error.
    detail = " ".join(detail.split())
    if len(detail) > 300:
        detail = detail[:300] + "..."
    return f"{meaning}: {detail}" if detail else meaning


@dataclass(frozen=True)
class Blob:
    digest: str
    data: bytes
