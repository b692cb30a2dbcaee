from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from linuxkit_rules.core.archive.tree import Entry, Tree
from linuxkit_rules.core.archive.writers import write_tar
from linuxkit_rules.core.errors import ArchiveError
from linuxkit_rules.core.oci.layout import ImageConfig, read_oci_layout, write_oci_layout

MTIME = 1700000000

CONFIG = ImageConfig(
    architecture="amd64",
    os="linux",
    env=("PATH=/usr/sbin:/usr/bin:/sbin:/bin",),
    entrypoint=("/usr/sbin/sshd", "-D"),
    cmd=("-e",),
    working_dir="/root",
    user="0:0",
    labels=(("org.mobyproject.config", '{"binds":["/etc:/etc"]}'), ("zz", "last")),
)


def layer_tar(*entries: Entry) -> bytes:
    t = Tree()
    for e in entries:
        t.add(e)
    buf = io.BytesIO()
    write_tar(t.entries(), buf, MTIME)
    return buf.getvalue()


LAYERS = (
    layer_tar(
        Entry("bin/sh", "file", 0o755, data=b"#!sh"), Entry("etc/hostname", "file", data=b"lk\n")
    ),
    layer_tar(Entry("usr/sbin/sshd", "file", 0o755, data=b"sshd" * 1000)),
)


def layout(
    layers: tuple[bytes, ...] = LAYERS, config: ImageConfig = CONFIG, mtime: int = MTIME
) -> tuple[bytes, str]:
    buf = io.BytesIO()
    digest = write_oci_layout(layers, config, "linuxkit/sshd:abc123", buf, mtime)
    return buf.getvalue(), digest


def members(data: bytes) -> dict[str, bytes]:
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        for m in tf.getmembers():
            f = tf.extractfile(m)
            out[m.name] = f.read() if f is not None else b""
    return out


def test_round_trip() -> None:
    data, digest = layout()
    image = read_oci_layout(io.BytesIO(data))
    assert image.config == CONFIG
    assert image.layers == LAYERS
    assert image.manifest_digest == digest


def test_layout_structure_and_json() -> None:
    data, digest = layout()
    files = members(data)
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(files["index.json"])
    (entry,) = index["manifests"]
    assert entry["digest"] == digest
    assert entry["annotations"] == {"org.opencontainers.image.ref.name": "linuxkit/sshd:abc123"}
    manifest_bytes = files["blobs/sha256/" + digest.split(":")[1]]
    assert hashlib.sha256(manifest_bytes).hexdigest() == digest.split(":")[1]
    # compact, sorted JSON
    manifest = json.loads(manifest_bytes)
    assert manifest_bytes == json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    assert [layer["mediaType"] for layer in manifest["layers"]] == [
        "application/vnd.oci.image.layer.v1.tar+gzip"
    ] * 2
    config = json.loads(files["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]])
    assert config["created"] == "2023-11-14T22:13:20Z"
    assert "history" not in config
    assert config["rootfs"]["diff_ids"] == [
        "sha256:" + hashlib.sha256(layer).hexdigest() for layer in LAYERS
    ]
    assert config["config"]["Labels"]["org.mobyproject.config"] == '{"binds":["/etc:/etc"]}'
    for layer in manifest["layers"]:
        blob = files["blobs/sha256/" + layer["digest"].split(":")[1]]
        assert blob[4:8] == b"\0\0\0\0" and blob[3] == 0  # deterministic gzip header
        assert len(blob) == layer["size"]
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        assert {m.mtime for m in tf.getmembers()} == {MTIME}


def test_byte_identical_twice() -> None:
    assert layout() == layout()
    assert layout(mtime=MTIME + 1)[0] != layout()[0]
    assert layout(config=ImageConfig())[1] != layout()[1]


def rewrite(data: bytes, change: dict[str, bytes]) -> bytes:
    files = members(data)
    files.update(change)
    t = Tree()
    for name, body in files.items():
        if not name.startswith("blobs") or name.count("/") == 2:  # skip the directories
            t.add(Entry(name, "file", data=body))
    buf = io.BytesIO()
    write_tar(t.entries(), buf, MTIME)
    return buf.getvalue()


def test_corrupt_blob_is_named() -> None:
    data, digest = layout()
    files = members(data)
    manifest = json.loads(files["blobs/sha256/" + digest.split(":")[1]])
    layer_name = "blobs/sha256/" + manifest["layers"][1]["digest"].split(":")[1]
    bad = gzip.compress(b"tampered", mtime=0)
    with pytest.raises(ArchiveError, match=layer_name):
        read_oci_layout(io.BytesIO(rewrite(data, {layer_name: bad})))


def test_missing_blob_and_bad_index() -> None:
    data, digest = layout()
    files = members(data)
    config_digest = json.loads(files["blobs/sha256/" + digest.split(":")[1]])["config"]["digest"]
    t = Tree()
    for name, body in files.items():
        blob = name.count("/") == 2
        if (blob or not name.startswith("blobs")) and name != "blobs/sha256/" + config_digest.split(
            ":"
        )[1]:
            t.add(Entry(name, "file", data=body))
    buf = io.BytesIO()
    write_tar(t.entries(), buf, MTIME)
    with pytest.raises(ArchiveError, match=r"config blob sha256:[0-9a-f]{64} is missing"):
        read_oci_layout(io.BytesIO(buf.getvalue()))
    two = json.loads(files["index.json"])
    two["manifests"] *= 2
    with pytest.raises(ArchiveError, match="exactly one manifest, found 2"):
        read_oci_layout(io.BytesIO(rewrite(data, {"index.json": json.dumps(two).encode()})))


def test_empty_ref_name_rejected() -> None:
    with pytest.raises(ArchiveError, match="reference name"):
        write_oci_layout(LAYERS, CONFIG, "", io.BytesIO(), MTIME)


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
def test_skopeo_inspect(tmp_path: Path) -> None:
    data, digest = layout()
    path = tmp_path / "image.tar"
    path.write_bytes(data)
    out = subprocess.run(
        ["skopeo", "inspect", f"oci-archive:{path}"], check=True, capture_output=True, text=True
    ).stdout
    info = json.loads(out)
    assert info["Digest"] == digest
    assert info["Architecture"] == "amd64" and info["Os"] == "linux"
    assert len(info["Layers"]) == 2


def test_layer_decompression_is_bounded() -> None:
    from linuxkit_rules.core.oci.layout import _gunzip_limited

    bomb = gzip.compress(b"\0" * 100_000)
    assert len(bomb) < 1000
    assert _gunzip_limited(bomb, "sha256:x", limit=100_000) == b"\0" * 100_000
    assert _gunzip_limited(bomb + bomb, "sha256:x", limit=200_000) == b"\0" * 200_000
    with pytest.raises(ArchiveError, match="decompresses to more than 99999 bytes"):
        _gunzip_limited(bomb, "sha256:x", limit=99_999)
    with pytest.raises(ArchiveError, match="truncated stream"):
        _gunzip_limited(bomb[:-20], "sha256:x", limit=100_000)


def test_blob_paths_must_be_sha256_hex() -> None:
    from linuxkit_rules.core.oci.layout import _verified_blobs

    for algorithm, name in (("md5", hashlib.md5(b"x").hexdigest()), ("sha256", "ABC")):
        tree = Tree()
        tree.add(Entry(f"blobs/{algorithm}/{name}", "file", data=b"x"))
        with pytest.raises(ArchiveError, match="is not named blobs/sha256/<64 lowercase hex>"):
            _verified_blobs(tree)
