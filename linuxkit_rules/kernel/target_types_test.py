from __future__ import annotations

import pytest
from pants.engine.addresses import Address
from pants.engine.target import InvalidFieldException

from linuxkit_rules.kernel.target_types import (
    DebianKernelArchesField,
    DebianKernelRequiredOptionsField,
    KernelConfigArchFragmentsField,
    KernelConfigBaseField,
    LinuxKernelArchesField,
)

ADDR = Address("kernel", target_name="config")


def test_base_is_a_make_target_or_a_config_file_beside_the_build_file() -> None:
    assert KernelConfigBaseField(None, ADDR).value == "tinyconfig"
    assert KernelConfigBaseField(None, ADDR).file(ADDR) is None
    base = KernelConfigBaseField("x86_64.config", ADDR)
    assert base.file(ADDR) == "kernel/x86_64.config"
    assert base.file(Address("", target_name="c")) == "x86_64.config"
    for bad in ("allyesconfig", "sub/x.config", "x.cfg"):
        with pytest.raises(
            InvalidFieldException, match=rf"kernel:config: base: '{bad}' is not allowed"
        ):
            KernelConfigBaseField(bad, ADDR)


def test_arch_fragments_name_known_arches_and_local_config_files() -> None:
    field = KernelConfigArchFragmentsField({"arm64": ["fragments/arm64.config"]}, ADDR)
    assert field.files(ADDR, "arm64") == ("kernel/fragments/arm64.config",)
    assert field.files(ADDR, "amd64") == ()
    assert KernelConfigArchFragmentsField(None, ADDR).files(ADDR, "amd64") == ()
    with pytest.raises(
        InvalidFieldException, match="'mips' is not supported; supported: amd64, arm64"
    ):
        KernelConfigArchFragmentsField({"mips": ["a.config"]}, ADDR)
    for bad in ("../up.config", "/abs.config", "notes.txt"):
        with pytest.raises(InvalidFieldException, match="arch_fragments: amd64: .* is not allowed"):
            KernelConfigArchFragmentsField({"amd64": [bad]}, ADDR)


@pytest.mark.parametrize("field", [LinuxKernelArchesField, DebianKernelArchesField])
def test_arches_are_known_and_not_empty(field: type) -> None:
    assert field(None, ADDR).value == ("amd64",)
    assert [a.value for a in field(["amd64", "arm64"], ADDR).parsed()] == ["amd64", "arm64"]
    with pytest.raises(InvalidFieldException, match="arches: list at least one of amd64, arm64"):
        field([], ADDR)
    with pytest.raises(InvalidFieldException, match="arches: 'riscv64' is not supported"):
        field(["riscv64"], ADDR)


def test_required_options_are_config_names() -> None:
    value = ("CONFIG_DM_CRYPT", "CONFIG_HZ=250")
    assert DebianKernelRequiredOptionsField(list(value), ADDR).value == value
    with pytest.raises(InvalidFieldException, match="required_options: 'DM_CRYPT' is not allowed"):
        DebianKernelRequiredOptionsField(["DM_CRYPT"], ADDR)
