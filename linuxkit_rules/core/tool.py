"""The program build processes run: `python -m linuxkit_rules.core.tool COMMAND manifest.json`.

Each command reads its JSON manifest (written by a rule), writes its outputs
in the sandbox and prints a small JSON report on stdout. A `LinuxkitError`
becomes one `error: ...` line on stderr and exit status 2, which the rule edge
turns into the build's error message.
"""
from __future__ import annotations

import importlib
import json
import sys
import traceback
from typing import Any, Callable, Mapping

from linuxkit_rules.core.errors import LinuxkitError

# command -> (module in linuxkit_rules.core, function taking the manifest)
COMMANDS: dict[str, tuple[str, str]] = {
    "package": ("oci.package_build", "build_package"),
    "kernel": ("kernels.debian_kernel", "build_kernel"),
    "image": ("media.image_build", "build_image"),
    "lock": ("debian.lockgen", "generate_lock"),
    "fetch": ("debian.fetch", "fetch_deb"),
    "boottest": ("boot.boottest", "run_boot_test"),
    "push": ("oci.publish", "push_command"),
    "pull": ("oci.publish", "pull_command"),
    "docker-load": ("oci.docker_engine", "load_command"),
    "dockerfile": ("oci.docker_engine", "dockerfile_build_command"),
    "kconfig": ("kernels.source_build", "resolve_config"),
    "linux": ("kernels.source_build", "build_linux"),
    "ovmf": ("media.firmware", "extract_ovmf_command"),
    "cloud-publish": ("clouds.publish", "publish_command"),
}


def run(command: str, manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    module, function = COMMANDS[command]
    # Imported on demand: a command loads only the modules it needs.
    entry: Callable[[Mapping[str, Any]], Mapping[str, Any]] = getattr(
        importlib.import_module(f"linuxkit_rules.core.{module}"), function
    )
    return entry(manifest)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in COMMANDS:
        print(f"usage: tool {{{','.join(sorted(COMMANDS))}}} MANIFEST.json", file=sys.stderr)
        return 64
    with open(argv[1], encoding="utf-8") as f:
        manifest = json.load(f)
    try:
        report = run(argv[0], manifest)
    except LinuxkitError as e:
        for line in str(e).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    except Exception:  # a bug, not bad input: keep the traceback
        traceback.print_exc()
        return 1
    json.dump(report, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
