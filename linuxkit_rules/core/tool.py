"""The program build processes run: `python -m linuxkit_rules.core.tool COMMAND manifest.json`.

Each command reads its JSON manifest (written by a rule), writes its outputs
in the sandbox and prints a small JSON report on stdout. A `LinuxkitError`
becomes one `error: ...` line on stderr and exit status 2, which the rule edge
turns into the build's error message.
"""
from __future__ import annotations

import json
import sys
import traceback
from typing import Any, Callable, Mapping

from linuxkit_rules.core.errors import LinuxkitError

Command = Callable[[Mapping[str, Any]], Mapping[str, Any]]


def _commands() -> dict[str, Command]:
    # Imported lazily so that one command's imports do not slow the others.
    def package(m: Mapping[str, Any]) -> Mapping[str, Any]:
        from linuxkit_rules.core.package_build import build_package

        return build_package(m)

    def kernel(m: Mapping[str, Any]) -> Mapping[str, Any]:
        from linuxkit_rules.core.kernel_build import build_kernel

        return build_kernel(m)

    def image(m: Mapping[str, Any]) -> Mapping[str, Any]:
        from linuxkit_rules.core.image_build import build_image

        return build_image(m)

    def lock(m: Mapping[str, Any]) -> Mapping[str, Any]:
        from linuxkit_rules.core.lockgen import generate_lock

        return generate_lock(m)

    def fetch(m: Mapping[str, Any]) -> Mapping[str, Any]:
        from linuxkit_rules.core.debfetch import fetch_deb

        return fetch_deb(m)

    def boottest(m: Mapping[str, Any]) -> Mapping[str, Any]:
        from linuxkit_rules.core.boottest import run_boot_test

        return run_boot_test(m)

    return {"package": package, "kernel": kernel, "image": image, "lock": lock, "fetch": fetch, "boottest": boottest}


def main(argv: list[str]) -> int:
    commands = _commands()
    if len(argv) != 2 or argv[0] not in commands:
        print(f"usage: tool {{{','.join(sorted(commands))}}} MANIFEST.json", file=sys.stderr)
        return 64
    with open(argv[1], encoding="utf-8") as f:
        manifest = json.load(f)
    try:
        report = commands[argv[0]](manifest)
    except LinuxkitError as e:
        for line in str(e).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    except Exception:  # a bug, not bad input: keep the traceback
        traceback.print_exc()
        return 1
    json.dump(report, sys.stdout, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
