"""Every rule of the backend, gathered for register.py."""
from __future__ import annotations

from linuxkit_rules.goals import debian_lockfiles
from linuxkit_rules.goals import graph as graph_goal
from linuxkit_rules.goals import tailor as tailor_goal
from linuxkit_rules.image import boot as image_boot
from linuxkit_rules.image import format_tools
from linuxkit_rules.image import rules as image_rules
from linuxkit_rules.image import run as image_run
from linuxkit_rules.image import sources as image_sources
from linuxkit_rules.image import test as image_test
from linuxkit_rules.kernel import rules as kernel_rules
from linuxkit_rules.kernel import source as kernel_source
from linuxkit_rules.package import dockerfile as package_dockerfile
from linuxkit_rules.package import rules as package_rules
from linuxkit_rules.publish import clouds as publish_clouds
from linuxkit_rules.publish import rules as publish_rules
from linuxkit_rules.toolchain import rules as toolchain_rules
from linuxkit_rules.util_rules import core_tool, debian, host_tools


def rules():
    return [
        *core_tool.rules(),
        *debian.rules(),
        *debian_lockfiles.rules(),
        *package_rules.rules(),
        *kernel_rules.rules(),
        *kernel_source.rules(),
        *image_rules.rules(),
        *format_tools.rules(),
        *image_boot.rules(),
        *image_run.rules(),
        *image_sources.rules(),
        *image_test.rules(),
        *host_tools.rules(),
        *graph_goal.rules(),
        *tailor_goal.rules(),
        *publish_rules.rules(),
        *publish_clouds.rules(),
        *package_dockerfile.rules(),
        *toolchain_rules.rules(),
    ]
