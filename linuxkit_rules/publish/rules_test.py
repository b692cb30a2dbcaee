"""Publish and base-image pulls through the rules, against a real docker-registry on 127.0.0.1."""
from __future__ import annotations

import io
import tarfile
from typing import Iterator

import pytest
from pants.core.goals.publish import PublishProcesses, PublishProcessesRequest
from pants.engine.addresses import Address
from pants.engine.fs import DigestContents
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import RuleRunner, mock_console

from linuxkit_rules.core.arch import Arch
from linuxkit_rules.core.oci.layout import ImageConfig, read_oci_layout, write_oci_layout
from linuxkit_rules.core.oci.publish import plan_from_layouts
from linuxkit_rules.core.oci.pull import pull
from linuxkit_rules.core.oci.push import push
from linuxkit_rules.core.oci.registry import RegistryClient, parse_reference
from linuxkit_rules.package.rules import (
    BuiltLinuxkitPackage,
    BuiltLinuxkitPackages,
    LinuxkitPackageFieldSet,
    PackageArchRequest,
)
from linuxkit_rules.publish.rules import LinuxkitPackagePublishFieldSet
from linuxkit_rules.testservers import docker_registry, free_port
from linuxkit_rules.testutil import make_publish_rule_runner


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with docker_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


@pytest.fixture
def rule_runner() -> RuleRunner:
    return make_publish_rule_runner()


def write_package(rule_runner: RuleRunner, extra: str = "") -> None:
    rule_runner.write_files(
        {
            "pkg/hello/BUILD": f'linuxkit_package(release_tags=["v1"]{extra})\n',
            "pkg/hello/build.yml": "image: hello\norg: example\n",
            "pkg/hello/rootfs/etc/hello": "hello\n",
        }
    )


def publish_processes(rule_runner: RuleRunner) -> PublishProcesses:
    tgt = rule_runner.get_target(Address("pkg/hello"))
    return rule_runner.request(
        PublishProcesses,
        [
            PublishProcessesRequest(
                (LinuxkitPackageFieldSet.create(tgt),),
                (LinuxkitPackagePublishFieldSet.create(tgt),),
            )
        ],
    )


def layout_of(rule_runner: RuleRunner) -> tuple[BuiltLinuxkitPackage, bytes]:
    tgt = rule_runner.get_target(Address("pkg/hello"))
    built = rule_runner.request(BuiltLinuxkitPackage, [LinuxkitPackageFieldSet.create(tgt)])
    return built, rule_runner.request(DigestContents, [built.digest])[0].content


def test_publish_package_then_pull_back(rule_runner: RuleRunner, registry: str) -> None:
    write_package(rule_runner)
    rule_runner.set_options(
        [f"--linuxkit-registries={registry}"], env_inherit={"PATH", "HOME", "PYENV_ROOT"}
    )
    [publish] = publish_processes(rule_runner)
    built, data = layout_of(rule_runner)
    tgt = rule_runner.get_target(Address("pkg/hello"))
    # build.yml has no `arches`: LinuxKit's default, amd64 and arm64, one index over both.
    both = rule_runner.request(BuiltLinuxkitPackages, [LinuxkitPackageFieldSet.create(tgt)])
    assert [a.value for a in both.arches] == ["amd64", "arm64"]
    assert [b.path for b in both.built] == [
        "pkg.hello/hello.oci.tar",
        "pkg.hello/hello-arm64.oci.tar",
    ]
    arm64 = rule_runner.request(DigestContents, [both.built[1].digest])[0].content
    tag = both.index_tag()
    assert tag != built.ref.rsplit(":", 1)[1]
    assert publish.names == (f"{registry}/example/hello:{tag}", f"{registry}/example/hello:v1")
    assert publish.process is not None
    with mock_console(rule_runner.options_bootstrapper) as (_, stdio):
        assert (
            rule_runner.run_interactive_process(publish.process).exit_code == 0
        ), stdio.get_stderr()

    expected = plan_from_layouts([(io.BytesIO(data), "amd64"), (io.BytesIO(arm64), "arm64")]).digest
    client = RegistryClient(registry)
    for t in (tag, "v1"):
        assert client.has_manifest("example/hello", t, expected)
    pulled = pull(parse_reference(f"{registry}/example/hello@{expected}"), {})
    assert pulled.digest == read_oci_layout(io.BytesIO(data)).manifest_digest
    pulled = pull(parse_reference(f"{registry}/example/hello@{expected}"), {}, architecture="arm64")
    assert pulled.digest == read_oci_layout(io.BytesIO(arm64)).manifest_digest


def test_an_arch_the_package_does_not_list_is_an_error(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(
        {
            "pkg/hello/BUILD": "linuxkit_package()\n",
            "pkg/hello/build.yml": "image: hello\narches: [amd64]\n",
        }
    )
    fs = LinuxkitPackageFieldSet.create(rule_runner.get_target(Address("pkg/hello")))
    with pytest.raises(ExecutionError) as exc:
        rule_runner.request(BuiltLinuxkitPackage, [PackageArchRequest(fs, Arch.ARM64)])
    assert (
        "package pkg/hello:hello (pkg/hello/build.yml) is not built for arm64: its arches are amd64"
        in str(exc.value)
    )
    # The architectures it lists are what `package` and `publish` build.
    both = rule_runner.request(BuiltLinuxkitPackages, [fs])
    assert [a.value for a in both.arches] == ["amd64"]


def test_no_registry_skips(rule_runner: RuleRunner) -> None:
    write_package(rule_runner)
    [publish] = publish_processes(rule_runner)
    assert publish.process is None
    assert "no registry" in (publish.description or "")


def test_refused_push_fails_with_one_line(rule_runner: RuleRunner) -> None:
    write_package(rule_runner, extra=f', registries=["127.0.0.1:{free_port()}"]')
    [publish] = publish_processes(rule_runner)
    assert publish.process is not None
    with mock_console(rule_runner.options_bootstrapper) as (_, stdio):
        assert rule_runner.run_interactive_process(publish.process).exit_code == 2
        err = stdio.get_stderr().strip().splitlines()
    assert len(err) == 1 and "cannot connect" in err[0], err


def test_base_image_is_pulled_verified_and_layered_under(
    rule_runner: RuleRunner, registry: str
) -> None:
    base = io.BytesIO()
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        for name, data in (("etc/base-release", b"base 1\n"), ("etc/hello", b"from the base\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    write_oci_layout([layer.getvalue()], ImageConfig(), "base:1", base, 1704067200)
    plan = plan_from_layouts([(io.BytesIO(base.getvalue()), "base")])
    push(plan, [parse_reference(f"{registry}/test/base:1")], {})

    write_package(rule_runner, extra=f', base_image="{registry}/test/base@{plan.digest}"')
    _, data = layout_of(rule_runner)
    [merged] = read_oci_layout(io.BytesIO(data)).layers
    with tarfile.open(fileobj=io.BytesIO(merged)) as tar:
        assert tar.extractfile("etc/base-release").read() == b"base 1\n"  # type: ignore[union-attr]
        assert tar.extractfile("etc/hello").read() == b"hello\n"  # type: ignore[union-attr]

    write_package(rule_runner, extra=f', base_image="{registry}/test/base:1"')
    with pytest.raises(ExecutionError, match=r"pkg/hello:hello: base_image .* has no digest"):
        layout_of(rule_runner)
