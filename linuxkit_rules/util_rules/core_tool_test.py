from __future__ import annotations

from linuxkit_rules.util_rules.core_tool import (
    _core_files,
    _core_sources,
    command_modules,
    core_imports,
)


def test_core_imports_reads_both_import_forms() -> None:
    graph = core_imports(
        {
            "tool": b"from linuxkit_rules.core.errors import LinuxkitError\n",
            "errors": b"",
            "a": b"import linuxkit_rules.core.b\nfrom linuxkit_rules.core.c import x\nimport os\n",
            "b": b"",
            "c": b"from linuxkit_rules.core.b import y\n",
        }
    )
    assert graph["a"] == {"b", "c"}
    assert graph["c"] == {"b"}
    assert graph["tool"] == {"errors"}


def test_core_imports_follow_subpackages_and_their_packages() -> None:
    graph = core_imports(
        {
            "": b"",
            "tool": b"",
            "errors": b"",
            "spec": b"",
            "spec.image": b"from linuxkit_rules.core.spec.reader import load\n",
            "spec.reader": b"from linuxkit_rules.core.errors import SchemaError\n",
            "media": b"",
            "media.build": b"from linuxkit_rules.core.spec import image\nimport linuxkit_rules.core.media.writer\n",
            "media.writer": b"",
            "boot": b"",
            "boot.qemu": b"",
        }
    )
    # Importing `spec.reader` runs core's and spec's `__init__.py` first.
    assert graph["spec.image"] == {"", "spec", "spec.reader"}
    # `from package import module` loads the module.
    assert graph["media.build"] == {"", "spec", "spec.image", "media", "media.writer"}


def test_command_modules_walks_subpackages() -> None:
    graph = core_imports(
        {
            "": b"",
            "tool": b"from linuxkit_rules.core.errors import LinuxkitError\n",
            "errors": b"",
            "media": b"",
            # the "image" command's entry module
            "media.image_build": b"from linuxkit_rules.core.spec.image_yaml import ImageSpec\n",
            "media.disk": b"",
            "spec": b"",
            "spec.image_yaml": b"from linuxkit_rules.core.spec.strict_yaml import load_yaml\n",
            "spec.strict_yaml": b"",
            "boot": b"",
            "boot.qemu": b"",
        }
    )
    image = command_modules("image", graph)
    assert image == [
        "",
        "errors",
        "media",
        "media.image_build",
        "spec",
        "spec.image_yaml",
        "spec.strict_yaml",
        "tool",
    ]


def test_core_files_are_found_in_subpackages_without_tests_or_testdata() -> None:
    files = _core_files()
    assert {
        "",
        "tool",
        "errors",
        "spec",
        "spec.image_yaml",
        "debian.resolver",
        "kernels.debian_kernel",
    } <= set(files)
    assert files["spec"].name == "__init__.py"
    assert not [name for name in files if name.endswith("_test") or "testdata" in name]


def test_command_modules_is_the_import_closure_of_the_real_core() -> None:
    graph = core_imports(_core_sources())
    fetch = command_modules("fetch", graph)
    assert {"", "tool", "errors", "debian", "debian.fetch", "debian.index"} <= set(fetch)
    # A fetched .deb does not depend on how images or kernels are written, nor on the resolver.
    assert not {
        "media.image_build",
        "kernels.debian_kernel",
        "archive.tree",
        "boot.qemu",
        "debian.resolver",
    } & set(fetch)
    kernel = command_modules("kernel", graph)
    assert {"kernels", "kernels.debian_kernel", "archive.tree", "kernels.kmod"} <= set(kernel)
    assert "spec.image_yaml" not in kernel
    # Every module a command runs is shipped: no command names a module that does not exist.
    for command in (
        "package",
        "kernel",
        "image",
        "lock",
        "fetch",
        "boottest",
        "push",
        "kconfig",
        "ovmf",
    ):
        assert set(command_modules(command, graph)) <= set(graph)
