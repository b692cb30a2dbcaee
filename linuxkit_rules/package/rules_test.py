from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from pants.engine.addresses import Address
from pants.engine.fs import Digest, DigestContents
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import QueryRule, RuleRunner

from linuxkit_rules.core.oci.layout import read_oci_layout
from linuxkit_rules.package.rules import BuiltLinuxkitPackage, LinuxkitPackageFieldSet
from linuxkit_rules.testutil import make_rule_runner


@pytest.fixture
def rule_runner() -> RuleRunner:
    return make_rule_runner(
        [
            QueryRule(BuiltLinuxkitPackage, [LinuxkitPackageFieldSet]),
            QueryRule(DigestContents, [Digest]),
        ]
    )


def write_package(rule_runner: RuleRunner, greeting: str = "hello\n") -> None:
    rule_runner.write_files(
        {
            "pkg/hello/BUILD": "linuxkit_package()\n",
            "pkg/hello/build.yml": "image: hello\norg: example\nconfig:\n  net: host\n  command: [/bin/hi]\n",
            "pkg/hello/rootfs/etc/hello": greeting,
            "pkg/hello/rootfs/bin/hi": "#!/bin/sh\necho hi\n",
            "pkg/hello/rootfs/usr/share/doc/hello/README": "dropped by the default `remove`\n",
        }
    )
    os.chmod(os.path.join(rule_runner.build_root, "pkg/hello/rootfs/bin/hi"), 0o755)


def build(rule_runner: RuleRunner) -> tuple[BuiltLinuxkitPackage, bytes]:
    tgt = rule_runner.get_target(Address("pkg/hello"))
    built = rule_runner.request(BuiltLinuxkitPackage, [LinuxkitPackageFieldSet.create(tgt)])
    contents = rule_runner.request(DigestContents, [built.digest])
    return built, contents[0].content


def test_package_layout_label_and_files(rule_runner: RuleRunner) -> None:
    write_package(rule_runner)
    built, data = build(rule_runner)
    assert built.path == "pkg.hello/hello.oci.tar"
    assert built.ref.startswith("example/hello:")
    image = read_oci_layout(io.BytesIO(data))
    label = json.loads(dict(image.config.labels)["org.mobyproject.config"])
    assert label == {"net": "host", "command": ["/bin/hi"]}
    with tarfile.open(fileobj=io.BytesIO(image.layers[0])) as layer:
        members = {m.name.rstrip("/"): m for m in layer.getmembers()}
        assert layer.extractfile(members["etc/hello"]).read() == b"hello\n"  # type: ignore[union-attr]
    assert members["bin/hi"].mode == 0o755
    assert members["etc/hello"].mode == 0o644
    assert not any(name.startswith("usr/share/doc") for name in members)


def test_tag_follows_inputs(rule_runner: RuleRunner) -> None:
    write_package(rule_runner)
    first, data1 = build(rule_runner)
    again, data2 = build(rule_runner)
    assert (first.ref, data1) == (again.ref, data2)
    write_package(rule_runner, greeting="bonjour\n")
    changed, _ = build(rule_runner)
    assert changed.ref != first.ref


def test_unknown_build_yml_field_is_an_error(rule_runner: RuleRunner) -> None:
    write_package(rule_runner)
    rule_runner.write_files({"pkg/hello/build.yml": "image: hello\nflavour: mint\n"})
    with pytest.raises(ExecutionError) as exc:
        build(rule_runner)
    message = str(exc.value)
    assert "pkg/hello/build.yml:2" in message
    assert "flavour" in message


def test_deb_whose_sha256_differs_from_the_lock_fails_the_build(rule_runner: RuleRunner) -> None:
    real = json.loads(Path("3rdparty/debian/bookworm-amd64.lock.json").read_text())
    entry = next(p for p in real["packages"] if p["name"] == "busybox-static")
    assert entry["depends"] == []
    bad = {**real, "roots": ["busybox-static"], "packages": [{**entry, "sha256": "0" * 64}]}
    rule_runner.write_files(
        {
            "3rdparty/debian/bookworm-amd64.lock.json": json.dumps(bad),
            "pkg/hello/BUILD": 'linuxkit_package(debian_packages=["busybox-static"])\n',
            "pkg/hello/build.yml": "image: hello\n",
        }
    )
    with pytest.raises(ExecutionError) as exc:
        build(rule_runner)
    message = str(exc.value)
    assert "3rdparty/debian/bookworm-amd64.lock.json: busybox-static" in message
    assert f"has sha256 {entry['sha256']}" in message
    assert "the lock says " + "0" * 64 in message


def test_sources_with_another_build_yml_name(rule_runner: RuleRunner) -> None:
    write_package(rule_runner)
    rule_runner.write_files(
        {
            "pkg/hello/BUILD": 'linuxkit_package(sources=["pkg.yml", "rootfs/etc/*"], build_yml="pkg.yml")\n',
            "pkg/hello/pkg.yml": "image: hi\norg: other\n",
        }
    )
    built, data = build(rule_runner)
    assert built.ref.startswith("other/hi:")
    with tarfile.open(fileobj=io.BytesIO(read_oci_layout(io.BytesIO(data)).layers[0])) as layer:
        names = {m.name.rstrip("/") for m in layer.getmembers()}
    assert "etc/hello" in names and "bin/hi" not in names  # only what `sources` names


def test_missing_build_yml_names_the_field(rule_runner: RuleRunner) -> None:
    write_package(rule_runner)
    os.unlink(os.path.join(rule_runner.build_root, "pkg/hello/build.yml"))
    with pytest.raises(ExecutionError) as exc:
        build(rule_runner)
    message = str(exc.value)
    assert "pkg/hello:hello: the `build_yml` field is 'build.yml'" in message
    assert "Create pkg/hello/build.yml" in message


def test_file_outside_rootfs_is_an_error(rule_runner: RuleRunner) -> None:
    write_package(rule_runner)
    rule_runner.write_files(
        {
            "pkg/hello/BUILD": 'linuxkit_package(sources=["build.yml", "rootfs/**", "notes.txt"])\n',
            "pkg/hello/notes.txt": "not part of the image\n",
        }
    )
    with pytest.raises(
        ExecutionError, match=r"pkg/hello/notes.txt is in the target's `sources` but is neither"
    ):
        build(rule_runner)


def write_holder(rule_runner: RuleRunner, archives: str) -> None:
    rule_runner.write_files(
        {
            "pkg/holder/BUILD": f"linuxkit_package(oci_archives={archives})\n",
            "pkg/holder/build.yml": "image: holder\norg: example\n",
            "pkg/holder/rootfs/etc/holder": "holds an archive\n",
        }
    )


def build_holder(rule_runner: RuleRunner) -> tuple[BuiltLinuxkitPackage, bytes]:
    tgt = rule_runner.get_target(Address("pkg/holder"))
    built = rule_runner.request(BuiltLinuxkitPackage, [LinuxkitPackageFieldSet.create(tgt)])
    return built, rule_runner.request(DigestContents, [built.digest])[0].content


def test_oci_archives_puts_the_named_package_layout_in_the_root(rule_runner: RuleRunner) -> None:
    write_package(rule_runner)
    write_holder(rule_runner, '["//pkg/hello"]')
    hello, hello_tar = build(rule_runner)
    holder, data = build_holder(rule_runner)
    with tarfile.open(fileobj=io.BytesIO(read_oci_layout(io.BytesIO(data)).layers[0])) as layer:
        member = layer.getmember("oci/hello.oci.tar")
        assert member.mode == 0o644
        assert layer.extractfile(member).read() == hello_tar  # type: ignore[union-attr]
    # A changed archive is a changed package.
    write_package(rule_runner, greeting="bonjour\n")
    changed, _ = build_holder(rule_runner)
    assert changed.ref != holder.ref


def test_oci_archives_must_name_packages(rule_runner: RuleRunner) -> None:
    write_package(rule_runner)
    rule_runner.write_files(
        {"pkg/other/BUILD": 'debian_kernel(name="k", package="linux-image-6.1.0-56-amd64")\n'}
    )
    write_holder(rule_runner, '["//pkg/other:k"]')
    with pytest.raises(
        ExecutionError,
        match=r"the `oci_archives` field of pkg/holder:holder: pkg/other:k is a `debian_kernel`, "
        r"not a `linuxkit_package`",
    ):
        build_holder(rule_runner)
