from __future__ import annotations

import pytest

from linuxkit_rules.core.errors import SchemaError
from linuxkit_rules.core.kernels.kconfig import (
    KconfigError,
    check_required,
    check_resolved,
    check_unknown,
    kconfig_symbols,
    merge,
    parse_config,
    parse_fragment,
    render,
)


def test_parse_fragment_values_and_comments() -> None:
    text = '# a comment\n\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C="x y"\nCONFIG_D=42\nCONFIG_E=0x1f\nCONFIG_F=m\n'
    got = {s.name: (s.value, s.line) for s in parse_fragment("k/base.config", text)}
    assert got == {
        "CONFIG_A": ("y", 3),
        "CONFIG_B": ("n", 4),
        "CONFIG_C": ('"x y"', 5),
        "CONFIG_D": ("42", 6),
        "CONFIG_E": ("0x1f", 7),
        "CONFIG_F": ("m", 8),
    }


@pytest.mark.parametrize(
    "line", ["CONFIG_A=yes", "A=y", "CONFIG_A", 'CONFIG_A="open', "CONFIG_A = y"]
)
def test_parse_fragment_bad_line_names_file_and_line(line: str) -> None:
    with pytest.raises(SchemaError) as e:
        parse_fragment("k/f.config", f"# x\n{line}\n")
    assert str(e.value).startswith("k/f.config:2: kernel config line:")
    assert "# CONFIG_X is not set" in str(e.value)


def test_conflict_inside_one_fragment() -> None:
    with pytest.raises(
        SchemaError, match=r"k/f.config:3: CONFIG_A: 'n'.*k/f.config:1 sets it to y"
    ):
        parse_fragment("k/f.config", "CONFIG_A=y\n\n# CONFIG_A is not set\n")


def test_merge_conflict_names_both_fragments() -> None:
    a = parse_fragment("k/a.config", "CONFIG_A=y\nCONFIG_B=y\n")
    b = parse_fragment("k/b.config", "# x\nCONFIG_B=m\n")
    with pytest.raises(
        SchemaError, match=r"k/b.config:2: CONFIG_B: 'm'.*k/a.config:2 sets it to y"
    ):
        merge([a, b])


def test_merge_agreeing_and_render_sorted() -> None:
    a = parse_fragment("a", "CONFIG_B=y\nCONFIG_A=y\n")
    b = parse_fragment("b", "CONFIG_B=y\n# CONFIG_C is not set\n")
    merged = merge([a, b])
    assert merged["CONFIG_B"].file == "a"
    assert render(merged) == "CONFIG_A=y\nCONFIG_B=y\n# CONFIG_C is not set\n"
    # Comments and order do not change the rendered fragment.
    c = parse_fragment("c", "# reordered\nCONFIG_A=y\n# CONFIG_C is not set\nCONFIG_B=y\n")
    assert render(merge([c])) == render(merged)


def test_check_resolved_lists_dropped_with_origin() -> None:
    merged = merge(
        [
            parse_fragment("k/base.config", "CONFIG_A=y\n"),
            parse_fragment("k/dm.config", "CONFIG_DM=y\nCONFIG_N=8\n"),
        ]
    )
    resolved = parse_config("CONFIG_A=y\n# CONFIG_DM is not set\nCONFIG_N=4\n")
    with pytest.raises(KconfigError) as e:
        check_resolved(merged, resolved)
    msg = str(e.value)
    assert "2 kernel option(s) dropped" in msg
    assert "k/dm.config:1: CONFIG_DM=y did not survive olddefconfig (resolved: not set)" in msg
    assert "k/dm.config:2: CONFIG_N=8 did not survive olddefconfig (resolved: 4)" in msg
    check_resolved(merged, parse_config("CONFIG_A=y\nCONFIG_DM=y\nCONFIG_N=8\n"))


def test_unset_request_satisfied_by_absence() -> None:
    merged = merge([parse_fragment("f", "# CONFIG_X is not set\n")])
    check_resolved(merged, {})


def test_kconfig_symbols_and_unknown(tmp_path) -> None:
    (tmp_path / "fs").mkdir()
    (tmp_path / "Kconfig").write_text("config FOO\n\tbool\nmenuconfig BAR\n\tbool\n")
    (tmp_path / "fs" / "Kconfig.extra").write_text("  config BAZ_1\n")
    (tmp_path / "fs" / "Makefile").write_text("config NOT_ME\n")
    assert kconfig_symbols(str(tmp_path)) == {"CONFIG_FOO", "CONFIG_BAR", "CONFIG_BAZ_1"}
    merged = merge([parse_fragment("k/x.config", "CONFIG_FOO=y\n\nCONFIG_NOPE=y\n")])
    with pytest.raises(SchemaError, match=r"k/x.config:3: kernel option: 'CONFIG_NOPE'"):
        check_unknown(merged, kconfig_symbols(str(tmp_path)))


def test_check_required() -> None:
    resolved = parse_config("CONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_HZ=250\n")
    check_required("//kernel:x", ["CONFIG_A", "CONFIG_B", "CONFIG_HZ=250"], resolved)
    with pytest.raises(KconfigError) as e:
        check_required(
            "//kernel:x", ["CONFIG_A", "CONFIG_C", "CONFIG_D", "CONFIG_HZ=1000"], resolved
        )
    assert str(e.value) == (
        "//kernel:x: required kernel options missing: CONFIG_C (is not set), CONFIG_D (is not set), "
        "CONFIG_HZ=1000 (is 250)"
    )
