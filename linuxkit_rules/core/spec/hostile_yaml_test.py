"""Image YAML written to hurt: alias bombs, host paths as kernel file names, boot
loader directives in the command line, bytes that are not UTF-8, secrets in errors."""
from __future__ import annotations

import time

import pytest

from linuxkit_rules.core.errors import SchemaError, short_repr
from linuxkit_rules.core.spec.build_yml import load_build_yml
from linuxkit_rules.core.spec.image_yaml import load_image_yaml
from linuxkit_rules.core.spec.strict_yaml import load_yaml


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """An `init:` list whose item i is a list of `width` copies of item i-1: the
    last one holds width**levels strings once expanded, anchored as `a{levels-1}`."""
    lines = ["init:", "  - &a0 [" + ",".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"  - &a{i} [" + ",".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_quickly_with_a_short_message() -> None:
    # 9**9 strings once expanded, from fewer than 500 bytes.
    text = alias_bomb() + "kernel:\n  image: k/k:1\n  cmdline: *a8\n"
    assert len(text) < 500
    start = time.monotonic()
    with pytest.raises(SchemaError, match="nodes once aliases are expanded") as e:
        load_image_yaml(text, "images/bomb.yml")
    assert time.monotonic() - start < 5
    assert len(str(e.value)) < 400


def test_error_on_a_large_aliased_value_prints_little() -> None:
    # Under the node cap (9**4 strings), but a list where a string belongs: the
    # message shows a bounded excerpt, not the 50 kB the value prints to.
    text = "kernel:\n  image: k/k:1\n  cmdline: *a3\n"
    with pytest.raises(SchemaError, match="kernel.cmdline: .*must be a string") as e:
        load_image_yaml(alias_bomb(levels=4) + text, "images/big.yml")
    assert len(str(e.value)) < 600


def test_short_repr_does_not_build_the_whole_repr() -> None:
    shared: list[object] = ["x" * 10] * 10
    for _ in range(30):  # 10**30 leaves once printed in full
        shared = [shared] * 10
    start = time.monotonic()
    text = short_repr(shared, 100)
    assert time.monotonic() - start < 1
    assert len(text) <= 104 and text.endswith("...")


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(SchemaError, match="aliases"):
        load_yaml("a: &a [1, *a]\n", "f.yml")


@pytest.mark.parametrize(
    "key, value",
    [
        ("binary", "/etc/hostname"),
        ("binary", "../../../etc/shadow"),
        ("binary", "sub/kernel"),
        ("binary", ".."),
        ("tar", "/etc/passwd"),
        ("tar", "../kernel.tar"),
        ("tar", ".hidden"),
        ("ucode", "/boot/intel-ucode.cpio"),
    ],
)
def test_kernel_file_names_are_plain(key: str, value: str) -> None:
    text = f"kernel:\n  image: k/k:1\n  {key}: {value!r}\n"
    with pytest.raises(SchemaError, match=rf"images/x.yml:3: kernel.{key}: .*plain file name"):
        load_image_yaml(text, "images/x.yml")


def test_kernel_file_names_accepted() -> None:
    spec = load_image_yaml(
        "kernel:\n  image: k/k:1\n  binary: bzImage-6.1_x86+64\n  tar: none\n", "x.yml"
    )
    assert spec.kernel is not None
    assert (spec.kernel.binary, spec.kernel.tar) == ("bzImage-6.1_x86+64", "")


@pytest.mark.parametrize("bad", ["console=ttyS0\nLABEL evil", "a\rb", "a\x00b", "a\x1bb", "a\x7fb"])
def test_control_characters_in_cmdline_are_refused(bad: str) -> None:
    text = "kernel:\n  image: k/k:1\n  cmdline: " + repr(bad).replace("'", '"') + "\n"
    with pytest.raises(SchemaError, match="kernel.cmdline: .*control character"):
        load_image_yaml(text, "images/x.yml")


def test_tab_free_printable_cmdline_is_accepted() -> None:
    spec = load_image_yaml(
        'kernel:\n  image: k/k:1\n  cmdline: "console=ttyS0 a=\\"b c\\" é"\n', "x.yml"
    )
    assert spec.kernel is not None and spec.kernel.cmdline == 'console=ttyS0 a="b c" é'


def test_non_utf8_yaml_is_one_line() -> None:
    for load in (load_image_yaml, load_build_yml):
        with pytest.raises(SchemaError) as e:
            load(b"init:\n  - linuxkit/init:1\n  - caf\xe9\n", "images/latin1.yml")  # type: ignore[operator]
        message = str(e.value)
        assert message.startswith("images/latin1.yml:3: encoding: 'byte 0xe9 at offset 33'")
        assert "\n" not in message


def test_explicit_key_after_merge_key_overrides() -> None:
    doc = load_yaml(
        "base: &base {name: a, image: x/a:1, readonly: true}\n"
        "svc:\n  <<: *base\n  name: b\n  readonly: false\n",
        "f.yml",
    )
    assert doc["svc"] == {"name": "b", "image": "x/a:1", "readonly": False}
    assert doc["svc"].key_lines["name"] == 4
    spec = load_image_yaml(
        "services:\n  - &base\n    name: a\n    image: x/a:1\n" "  - <<: *base\n    name: b\n",
        "images/x.yml",
    )
    assert [(c.name, c.image) for c in spec.services] == [("a", "x/a:1"), ("b", "x/a:1")]


def test_explicit_key_twice_is_still_a_duplicate() -> None:
    with pytest.raises(SchemaError, match="duplicate key"):
        load_yaml("base: &base {a: 1}\nx:\n  <<: *base\n  a: 2\n  a: 3\n", "f.yml")


def test_contents_is_never_echoed_in_an_error() -> None:
    secret = "-----BEGIN OPENSSH PRIVATE KEY----- hunter2"
    text = f"files:\n  - path: root/key\n    contents: {secret!r}\n    source: key.txt\n"
    with pytest.raises(SchemaError, match="contents and source cannot be used together") as e:
        load_image_yaml(text, "images/x.yml")
    assert "hunter2" not in str(e.value)
