"""The linuxkit_rules Pants backend: LinuxKit packages, kernels and images."""
from __future__ import annotations


def target_types():
    return []


def rules():
    return []
