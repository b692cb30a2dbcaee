"""Dockerfile packages and `publish` to the engine, through the rules, against a real dockerd."""
from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Iterator

import pytest
from pants.core.goals.publish import PublishProcesses, PublishProcessesRequest
from pants.engine.addresses import Address
from pants.engine.fs import DigestContents
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import RuleRunner, mock_console

from linuxkit_rules.core.oci.layout import read_oci_layout
from linuxkit_rules.package.rules import BuiltLinuxkitPackage, LinuxkitPackageFieldSet
from linuxkit_rules.publish.rules import LinuxkitPackagePublishFieldSet
from linuxkit_rules.testservers import dockerd
from linuxkit_rules.testutil import INHERIT, make_publish_rule_runner


@pytest.fixture(scope="module")
def docker_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with dockerd(Path(tmp_path_factory.mktemp("d"))) as host:
        yield host


@pytest.fixture
def rule_runner() -> RuleRunner:
    return make_publish_rule_runner()


def write_package(
    rule_runner: RuleRunner, build: str = 'linuxkit_package(dockerfile="Dockerfile")'
) -> None:
    rule_runner.write_files(
        {
            "pkg/dock/BUILD": build + "\n",
            "pkg/dock/build.yml": "image: dock\norg: example\nconfig:\n  net: host\n",
            "pkg/dock/Dockerfile": 'FROM scratch\nCOPY rootfs/ /\nCMD ["/bin/dock"]\n',
            "pkg/dock/rootfs/etc/dock": "built by docker\n",
        }
    )


def build(rule_runner: RuleRunner) -> tuple[BuiltLinuxkitPackage, bytes]:
    tgt = rule_runner.get_target(Address("pkg/dock"))
    built = rule_runner.request(BuiltLinuxkitPackage, [LinuxkitPackageFieldSet.create(tgt)])
    return built, rule_runner.request(DigestContents, [built.digest])[0].content


def test_dockerfile_package_and_load(rule_runner: RuleRunner, docker_host: str) -> None:
    import docker  # type: ignore[import]

    write_package(rule_runner)
    rule_runner.set_options(
        ["--linuxkit-registries=docker-daemon"],
        env={"DOCKER_HOST": docker_host},
        env_inherit=INHERIT,
    )
    built, data = build(rule_runner)
    assert built.ref.startswith("example/dock:")
    image = read_oci_layout(io.BytesIO(data))
    assert image.config.cmd == ("/bin/dock",)
    with tarfile.open(fileobj=io.BytesIO(image.layers[0])) as tar:
        assert tar.extractfile("etc/dock").read() == b"built by docker\n"  # type: ignore[union-attr]

    tgt = rule_runner.get_target(Address("pkg/dock"))
    [load] = rule_runner.request(
        PublishProcesses,
        [
            PublishProcessesRequest(
                (LinuxkitPackageFieldSet.create(tgt),),
                (LinuxkitPackagePublishFieldSet.create(tgt),),
            )
        ],
    )
    assert load.names == (built.ref,) and load.process is not None
    with mock_console(rule_runner.options_bootstrapper) as (_, stdio):
        assert rule_runner.run_interactive_process(load.process).exit_code == 0, stdio.get_stderr()
    loaded = docker.DockerClient(base_url=docker_host).images.get(built.ref)
    assert loaded.attrs["Config"]["Cmd"] == ["/bin/dock"]


def test_no_engine_fails_only_dockerfile_packages(rule_runner: RuleRunner, tmp_path: Path) -> None:
    write_package(rule_runner)
    rule_runner.set_options(
        [], env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"}, env_inherit=INHERIT
    )
    with pytest.raises(
        ExecutionError, match=r"pkg/dock:dock \(built from Dockerfile\) needs a Docker engine"
    ):
        build(rule_runner)


def test_dockerfile_with_debian_packages_is_rejected(rule_runner: RuleRunner) -> None:
    write_package(
        rule_runner, 'linuxkit_package(dockerfile="Dockerfile", debian_packages=["runc"])'
    )
    with pytest.raises(
        ExecutionError, match=r"`dockerfile` and `debian_packages` cannot both be set"
    ):
        build(rule_runner)
