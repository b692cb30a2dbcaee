"""Host tool fingerprints: the version output, stdout or stderr, decides the key."""
from __future__ import annotations

from linuxkit_rules.util_rules.host_tools import HostTool, host_tool_keys, version_fingerprint


def test_version_on_stderr_counts() -> None:
    # `ssh -V` prints on stderr only.
    v1, f1 = version_fingerprint("/usr/bin/ssh", b"", b"OpenSSH_9.2p1 Debian-2+deb12u3\n")
    v2, f2 = version_fingerprint("/usr/bin/ssh", b"", b"OpenSSH_9.2p1 Debian-2+deb12u4\n")
    assert v1 == "OpenSSH_9.2p1 Debian-2+deb12u3"
    assert f1 != f2


def test_version_change_changes_the_manifest_key() -> None:
    old = HostTool("/usr/bin/qemu-img", *version_fingerprint("/usr/bin/qemu-img", b"7.2.5\n", b""))
    new = HostTool("/usr/bin/qemu-img", *version_fingerprint("/usr/bin/qemu-img", b"7.2.9\n", b""))
    assert host_tool_keys([old]) != host_tool_keys([new])
    assert host_tool_keys([old, None])["/usr/bin/qemu-img"]["version"] == "7.2.5"


def test_found_tools_carry_their_real_versions() -> None:
    import shutil

    import pytest
    from pants.testutil.rule_runner import QueryRule

    from linuxkit_rules.testutil import make_rule_runner
    from linuxkit_rules.util_rules.host_tools import SSH, HostToolRequest

    if (
        shutil.which("ssh", path="/usr/bin:/bin") is None
        or shutil.which("qemu-img", path="/usr/bin:/bin") is None
    ):
        pytest.skip("ssh or qemu-img not installed (openssh-client, qemu-utils)")
    runner = make_rule_runner([QueryRule(HostTool, [HostToolRequest])])
    ssh = runner.request(HostTool, [SSH])
    assert ssh.version.startswith("OpenSSH_") and len(ssh.fingerprint) == 64
    qemu_img = runner.request(HostTool, [HostToolRequest("qemu-img", "qemu-utils")])
    assert qemu_img.version.startswith("qemu-img version")
    assert qemu_img.fingerprint != ssh.fingerprint
