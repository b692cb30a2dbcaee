"""The linuxkit_rules Pants backend: LinuxKit packages, kernels and images."""
from __future__ import annotations

from linuxkit_rules import rules as _rules
from linuxkit_rules import target_types as _target_types
from linuxkit_rules.core.boot.lifetime import interrupt_on


def target_types():
    return _target_types.target_types()


def rules():
    # Without pantsd, `kill <pants>` stops a `pants run` (QEMU) as Ctrl-C does.
    interrupt_on()
    return _rules.rules()
