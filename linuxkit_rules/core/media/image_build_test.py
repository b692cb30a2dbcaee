from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
import yaml

from linuxkit_rules.core.archive.tree import Entry, Tree
from linuxkit_rules.core.archive.writers import write_tar
from linuxkit_rules.core.errors import SchemaError
from linuxkit_rules.core.media.image_build import (
    Images,
    add_file,
    image_tree,
    metadata_yaml,
    source_path,
)
from linuxkit_rules.core.oci.layout import ImageConfig, write_oci_layout
from linuxkit_rules.core.spec.image_yaml import load_image_yaml, merge_images


def spec_of(text: str, file: str = "images/x.yml"):  # type: ignore[no-untyped-def]
    return load_image_yaml(text, file)


def test_source_paths_relative_to_their_yaml_and_home() -> None:
    a = spec_of("files:\n  - path: a\n    source: keys/a.pub\n", "images/base.yml")
    b = spec_of("files:\n  - path: b\n    source: ~/.ssh/id.pub\n", "tests/more.yml")
    merged = merge_images([a, b])
    assert [source_path(f) for f in merged.files] == ["images/keys/a.pub", ".home/.ssh/id.pub"]


def test_file_owner_by_name_from_passwd_and_group() -> None:
    spec = spec_of(
        "files:\n  - path: srv/data\n    contents: x\n    mode: '0640'\n    uid: www\n    gid: staff\n"
    )
    tree = Tree()
    tree.add(
        Entry("etc/passwd", "file", data=b"root:x:0:0::/root:/bin/sh\nwww:x:33:33::/:/bin/false\n")
    )
    tree.add(Entry("etc/group", "file", data=b"root:x:0:\nstaff:x:50:\n"))
    add_file(tree, spec.files[0], spec, set())
    entry = tree.get("srv/data")
    assert entry is not None and (entry.uid, entry.gid, entry.mode) == (33, 50, 0o640)


def test_file_owner_by_container_name() -> None:
    spec = spec_of(
        "services:\n  - name: web\n    image: a/b:1\nfiles:\n  - path: w\n    contents: x\n    uid: web\n"
    )
    tree = Tree()
    add_file(tree, spec.files[0], spec, set())
    assert tree.get("w").uid == 100  # type: ignore[union-attr]


def test_unknown_owner_name_is_one_clear_error() -> None:
    spec = spec_of("files:\n  - path: w\n    contents: x\n    uid: nobody\n")
    with pytest.raises(SchemaError) as e:
        add_file(Tree(), spec.files[0], spec, set())
    assert "images/x.yml:2: files.uid: 'nobody'" in str(e.value) and "/etc/passwd" in str(e.value)


def test_missing_source_skipped_only_when_optional(tmp_path: Path) -> None:
    spec = spec_of(
        "files:\n  - path: a\n    source: a.txt\n    optional: true\n  - path: b\n    source: b.txt\n"
    )
    tree = Tree()
    add_file(tree, spec.files[0], spec, set())
    assert "a" not in tree
    with pytest.raises(SchemaError) as e:
        add_file(tree, spec.files[1], spec, set())
    assert "images/x.yml:5: files.source: 'b.txt'" in str(e.value)


def test_present_source_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    os.makedirs(".home/.ssh")
    Path(".home/.ssh/id.pub").write_text("ssh-ed25519 AAA\n")
    spec = spec_of("files:\n  - path: root/.ssh/authorized_keys\n    source: ~/.ssh/id.pub\n")
    tree = Tree()
    add_file(tree, spec.files[0], spec, {".home/.ssh/id.pub"})
    assert tree.get("root/.ssh/authorized_keys").data == b"ssh-ed25519 AAA\n"  # type: ignore[union-attr]


def test_metadata_yaml_is_the_merged_config() -> None:
    base = spec_of(
        "kernel:\n  image: //kernel:debian\n  cmdline: console=ttyS0\ninit: [linuxkit/init:1]\n",
        "a.yml",
    )
    extra = spec_of(
        "services:\n  - name: getty\n    image: linuxkit/getty:1\n    env: [INSECURE=true]\n"
        "files:\n  - path: etc/linuxkit.yml\n    metadata: yaml\n",
        "b.yml",
    )
    merged = merge_images([base, extra])
    doc = yaml.safe_load(metadata_yaml(merged))
    assert doc["kernel"]["cmdline"] == "console=ttyS0"
    assert doc["services"] == [
        {"name": "getty", "image": "linuxkit/getty:1", "env": ["INSECURE=true"]}
    ]
    tree = Tree()
    add_file(tree, merged.files[0], merged, set())
    assert yaml.safe_load(tree.get("etc/linuxkit.yml").data) == doc  # type: ignore[union-attr]


def _layout(tmp_path: Path, name: str, *entries: Entry) -> str:
    t = Tree()
    for e in entries:
        t.add(e)
    layer = io.BytesIO()
    write_tar(t.entries(), layer, 0)
    path = tmp_path / f"{name}.tar"
    with open(path, "wb") as f:
        write_oci_layout([layer.getvalue()], ImageConfig(cmd=("/bin/sh",)), f"x/{name}:1", f, 0)
    return str(path)


def test_volumes_in_the_tree_and_bound_by_containers(tmp_path: Path) -> None:
    spec = spec_of(
        "volumes:\n  - name: blank\n  - name: data\n    image: x/data:1\n    readonly: true\n"
        "onboot:\n  - name: a\n    image: x/app:1\n    binds: [blank:/b, 'data:/d:ro']\n"
    )
    refs = {
        "x/data:1": {
            "path": _layout(tmp_path, "data", Entry("hello", "file", 0o644, data=b"hi\n"))
        },
        "x/app:1": {"path": _layout(tmp_path, "app", Entry("bin/sh", "file", 0o755, data=b"#!"))},
    }
    tree = image_tree(spec, Images(refs), set())
    kinds = {
        p: getattr(tree.get(p), "kind", None)
        for p in (
            "containers/volumes/blank/lower",
            "containers/volumes/blank/merged",
            "containers/volumes/data/lower",
            "containers/volumes/data/merged",
        )
    }
    assert set(kinds.values()) == {"dir"}
    assert tree.get("containers/volumes/data/lower/hello").data == b"hi\n"  # type: ignore[union-attr]
    assert tree.get("containers/volumes/data/readonly") is not None
    assert tree.get("containers/volumes/blank/readonly") is None
    assert [
        e.path for e in tree.entries() if e.path.startswith("containers/volumes/blank/lower/")
    ] == []
    config = json.loads(tree.get("containers/onboot/000-a/config.json").data)  # type: ignore[union-attr]
    mounts = {m["destination"]: m for m in config["mounts"]}
    assert mounts["/b"]["source"] == "/containers/volumes/blank/merged"
    assert (
        mounts["/d"]["source"] == "/containers/volumes/data/merged"
        and "ro" in mounts["/d"]["options"]
    )
    assert "volumes" in yaml.safe_load(metadata_yaml(spec))


def test_tar_none_builds_without_a_modules_tarball(tmp_path: Path) -> None:
    kernel_dir = tmp_path / "kernel"
    kernel_dir.mkdir()
    (kernel_dir / "kernel").write_bytes(b"bzImage")  # no kernel.tar at all
    refs = {
        "k/k:1": {"path": str(kernel_dir)},
        "x/init:1": {"path": _layout(tmp_path, "init", Entry("init", "file", 0o755, data=b"#!"))},
    }
    spec = spec_of("kernel:\n  image: k/k:1\n  tar: none\ninit: [x/init:1]\n")
    tree = image_tree(spec, Images(refs), set())
    assert tree.get("init") is not None
    assert not any(e.path.startswith("lib/modules") for e in tree.entries())
    assert yaml.safe_load(metadata_yaml(spec))["kernel"]["tar"] == "none"


def test_disk_outputs_are_written_sparse(tmp_path: Path) -> None:
    from linuxkit_rules.core.media.image_build import _write

    data = b"MBR" + bytes(64 * 1024 * 1024) + b"end"
    path = tmp_path / "disk.raw"
    _write(str(path), data)
    assert path.read_bytes() == data
    assert os.stat(path).st_blocks * 512 < 1024 * 1024  # the 64 MiB of zeros are holes


def test_initrd_compression_none_is_the_same_cpio_as_gzip(tmp_path: Path) -> None:
    import gzip

    from linuxkit_rules.core.media.image_build import _kernel_parts

    kernel_dir = tmp_path / "kernel"
    kernel_dir.mkdir()
    (kernel_dir / "kernel").write_bytes(b"bzImage")
    refs = {
        "k/k:1": {"path": str(kernel_dir)},
        "x/init:1": {"path": _layout(tmp_path, "init", Entry("init", "file", 0o755, data=b"#!"))},
    }
    spec = spec_of("kernel:\n  image: k/k:1\n  tar: none\ninit: [x/init:1]\n")
    tree = image_tree(spec, Images(refs), set())
    _, gz, _ = _kernel_parts(spec, Images(refs), tree, 0)
    _, raw, _ = _kernel_parts(spec, Images(refs), tree, 0, compression="none")
    assert gz[:2] == b"\x1f\x8b"
    assert raw[:6] == b"070701"  # a newc cpio, as the kernel reads it without a decompressor
    assert gzip.decompress(gz) == raw
    assert b"TRAILER!!!" in raw
