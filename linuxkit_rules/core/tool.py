"""The program build processes run: `python -m linuxkit_rules.core.tool COMMAND manifest.json`.

Each command reads its JSON manifest (written by a rule), writes its outputs
in the sandbox and prints a small JSON report on stdout. A `LinuxkitError`
becomes one `error: ...` line on stderr and exit status 2, which the rule edge
turns into the build's error message.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any, Callable, Mapping

from linuxkit_rules.core.errors import DebianError, LinuxkitError

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
    "toolchain": ("debian.toolchain", "build_toolchain"),
}


def verify_inputs(checks: Mapping[str, str]) -> None:
    """Each input file's sha256 against the lock's, before any command reads it."""
    for path, expected in sorted(checks.items()):
        h = hashlib.sha256()
        try:
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        except OSError as e:
            raise DebianError(f"{path}: cannot read a locked input ({e.strerror})") from None
        if h.hexdigest() != expected:
            raise DebianError(
                f"{path}: sha256 {h.hexdigest()} does not match the lock's {expected}; "
                "the cached file is corrupt or was replaced (nothing was unpacked)"
            )


# Keys of every manifest that the tool itself reads, not the command: the locked
# inputs to re-check, and the host tools' versions (there only to key the cache).
ENVELOPE_KEYS = ("verify_sha256", "host_tools")


def run(command: str, manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    verify_inputs(manifest.get("verify_sha256") or {})
    manifest = {k: v for k, v in manifest.items() if k not in ENVELOPE_KEYS}
    module, function = COMMANDS[command]
    # Imported on demand: a command loads only the modules it needs.
    entry: Callable[[Mapping[str, Any]], Mapping[str, Any]] = getattr(
        importlib.import_module(f"linuxkit_rules.core.{module}"), function
    )
    return entry(manifest)


def end_with_parent(poll: float = 1.0) -> None:
    """When the process that started this one dies (Pants killed with SIGKILL while
    running without pantsd), kill this process's group: a kernel compile or a boot
    test must not run on for nobody. Only when this process leads its own group,
    as under Pants, so that a caller's group is never touched."""
    if os.getpgrp() != os.getpid():
        return
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll)
        os.killpg(os.getpgrp(), signal.SIGTERM)
        time.sleep(5)
        os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


def main(argv: list[str]) -> int:
    end_with_parent()
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
