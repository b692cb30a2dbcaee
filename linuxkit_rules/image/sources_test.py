"""Image YAML reading under RuleRunner: one fixture per kind of bad input."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from pants.engine.addresses import Address
from pants.engine.fs import Digest, DigestContents
from pants.engine.internals.scheduler import ExecutionError
from pants.engine.process import ProcessCacheScope
from pants.testutil.rule_runner import QueryRule, RuleRunner

from linuxkit_rules.image.sources import FileSources, ImageYamlRequest, ParsedImage
from linuxkit_rules.target_types import LinuxkitImageExtendsField, LinuxkitImageSourceField
from linuxkit_rules.testutil import make_rule_runner

BASE = "kernel:\n  image: //kernel:debian\n  cmdline: console=ttyS0\ninit:\n  - linuxkit/init:x\n"


@pytest.fixture
def rule_runner() -> RuleRunner:
    return make_rule_runner(
        [
            QueryRule(ParsedImage, [ImageYamlRequest]),
            QueryRule(FileSources, [ParsedImage]),
            QueryRule(DigestContents, [Digest]),
        ]
    )


def new_session(rule_runner: RuleRunner) -> None:
    rule_runner.set_options([], env_inherit={"PATH", "HOME", "PYENV_ROOT"})


def parse(
    rule_runner: RuleRunner,
    files: dict[str, str],
    build: str = 'linuxkit_image(name="i", source="i.yml")\n',
) -> ParsedImage:
    rule_runner.write_files({"img/BUILD": build, **files})
    tgt = rule_runner.get_target(Address("img", target_name="i"))
    request = ImageYamlRequest(tgt[LinuxkitImageSourceField], tgt[LinuxkitImageExtendsField])
    return rule_runner.request(ParsedImage, [request])


def sources(rule_runner: RuleRunner, parsed: ParsedImage) -> tuple[FileSources, dict[str, bytes]]:
    found = rule_runner.request(FileSources, [parsed])
    contents = rule_runner.request(DigestContents, [found.digest])
    return found, {fc.path: fc.content for fc in contents}


def error_of(rule_runner: RuleRunner, yml: str, extra: dict[str, str] | None = None) -> str:
    with pytest.raises(ExecutionError) as exc:
        parsed = parse(rule_runner, {"img/i.yml": yml, **(extra or {})})
        sources(rule_runner, parsed)
    return str(exc.value)


def test_extends_combines_in_order(rule_runner: RuleRunner) -> None:
    parsed = parse(
        rule_runner,
        {
            "img/base.yml": BASE + "files:\n  - path: etc/a\n    source: a.txt\n",
            "img/a.txt": "from base\n",
            "img/i.yml": "services:\n  - name: getty\n    image: linuxkit/getty:x\n",
        },
        'linuxkit_image(name="i", source="i.yml", extends=["base.yml"])\n',
    )
    assert parsed.paths == ("img/base.yml", "img/i.yml")
    assert parsed.spec.kernel is not None and [c.name for c in parsed.spec.services] == ["getty"]
    found, contents = sources(rule_runner, parsed)
    assert found.present == ("img/a.txt",) and contents["img/a.txt"] == b"from base\n"
    assert not found.from_home and found.cache_scope() == ProcessCacheScope.SUCCESSFUL


def test_home_source_is_read_and_in_the_digest(
    rule_runner: RuleRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "id.pub").write_text("key one\n")
    yml = (
        BASE
        + "files:\n  - path: root/.ssh/authorized_keys\n    source: ~/.ssh/id.pub\n    optional: true\n"
    )
    found, contents = sources(rule_runner, parse(rule_runner, {"img/i.yml": yml}))
    assert contents == {".home/.ssh/id.pub": b"key one\n"}
    # Bytes from the user's home never go to the remote or on-disk process cache.
    assert found.from_home and found.cache_scope() == ProcessCacheScope.PER_RESTART_SUCCESSFUL
    first = found.digest
    (tmp_path / ".ssh" / "id.pub").write_text("key two\n")
    new_session(rule_runner)  # as a new `pants` run: home files are read again
    again, contents = sources(rule_runner, parse(rule_runner, {"img/i.yml": yml}))
    assert contents == {".home/.ssh/id.pub": b"key two\n"} and again.digest != first
    os.remove(tmp_path / ".ssh" / "id.pub")
    new_session(rule_runner)
    missing, _ = sources(rule_runner, parse(rule_runner, {"img/i.yml": yml}))
    assert missing.present == ()


def test_source_escaping_through_a_symlink(rule_runner: RuleRunner, tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.write_text("x")
    rule_runner.write_files({"img/BUILD": 'linuxkit_image(name="i", source="i.yml")\n'})
    os.symlink(outside, os.path.join(rule_runner.build_root, "img/link"))
    message = error_of(rule_runner, BASE + "files:\n  - path: etc/s\n    source: link\n")
    assert (
        "img/i.yml:7: files.source: 'link' is not allowed" in message
        and "outside the repository" in message
    )


@pytest.mark.parametrize(
    "yml,expected",
    [
        pytest.param(
            BASE + "services:\n  - name: a\n    image: b/c:1\n    capabilites: [all]\n",
            "img/i.yml:9: services[0].capabilites",
            id="unknown-container-key",
        ),
        pytest.param(
            BASE + "services:\n  - name: a\n    image: b/c:1\n    binds: /a:/b\n",
            "img/i.yml:9: services[0].binds: '/a:/b' is not allowed; must be a list",
            id="string-for-list",
        ),
        pytest.param(
            BASE + "services:\n  - name: a\n    image: b/c:1\n  - name: a\n    image: b/d:1\n",
            "img/i.yml:9: name: 'a' is not allowed; container names must be unique",
            id="duplicate-service",
        ),
        pytest.param(
            BASE + "files:\n  - path: etc/x\n    source: ../../etc/passwd\n",
            "img/i.yml:8: files[0].source: '../../etc/passwd'",
            id="source-dotdot",
        ),
        pytest.param(
            BASE + "files:\n  - path: etc/x\n    contents: hi\n    source: x\n",
            "contents and source cannot be used together",
            id="contents-and-source",
        ),
        pytest.param(
            BASE + "files:\n  - path: etc/x\n    contents: hi\n    mode: rw-r--r--\n",
            "img/i.yml:9: files[0].mode: 'rw-r--r--' is not allowed; must be an octal mode",
            id="mode-not-octal",
        ),
    ],
)
def test_bad_input_is_one_clear_error(rule_runner: RuleRunner, yml: str, expected: str) -> None:
    message = error_of(rule_runner, yml)
    assert expected in message, message
    assert message.count("is not allowed") == 1
