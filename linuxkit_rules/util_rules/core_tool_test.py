from __future__ import annotations

from linuxkit_rules.util_rules.core_tool import _core_sources, command_modules, core_imports


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


def test_command_modules_is_the_import_closure_of_the_real_core() -> None:
    graph = core_imports(_core_sources())
    fetch = command_modules("fetch", graph)
    assert {"tool", "errors", "debfetch", "debian"} <= set(fetch)
    # A fetched .deb does not depend on how images or kernels are written.
    assert not {"image_build", "kernel_build", "archive", "qemu"} & set(fetch)
    kernel = command_modules("kernel", graph)
    assert {"kernel_build", "archive", "kmod"} <= set(kernel)
    assert "image_yaml" not in kernel
