import json

from linuxkit_rules.core.reports.kernel_matrix import (
    flavour_of,
    parse_test_output,
    render_json,
    render_markdown,
)

OUTPUT = """\
13:20:01.00 [INFO] Completed: Boot test tests/kernels:matrix-boot@image=linux
✓ tests/kernels:matrix-boot@image=linux succeeded in 80.1s (memoized).
matrix: runc-memory-limit: not supported by this kernel: CONFIG_MEMCG
matrix: runc-seccomp: pass
matrix: done 6.1.192
✕ tests/kernels:matrix-boot@image=trixie failed in 95.0s.
matrix: runc-memory-limit: pass
matrix: runc-seccomp: fail: mkdir under the profile exited 0: ok
matrix: xfs-quota: pass
matrix: done 6.12.118+deb13-amd64
"""


def test_lines_group_by_the_target_that_printed_them() -> None:
    rows = parse_test_output(OUTPUT)
    assert sorted(rows) == ["linux", "trixie"]
    assert rows["linux"].checks == {"runc-memory-limit": "not supported", "runc-seccomp": "pass"}
    assert rows["linux"].details == {"runc-memory-limit": "CONFIG_MEMCG"}
    assert rows["linux"].version == "6.1.192"
    assert rows["trixie"].checks["runc-seccomp"] == "fail"
    assert rows["trixie"].version == "6.12.118+deb13-amd64"


def test_tables_have_a_row_per_kernel_and_a_column_per_check() -> None:
    rows = list(parse_test_output(OUTPUT).values())
    md = render_markdown(rows).splitlines()
    assert md[0].endswith("| runc-memory-limit | runc-seccomp | xfs-quota |")
    assert "| not supported (CONFIG_MEMCG) | pass | no result |" in md[2]
    assert md[3].endswith("| pass | fail | pass |")
    doc = json.loads(render_json(rows))
    assert doc["checks"] == ["runc-memory-limit", "runc-seccomp", "xfs-quota"]
    assert doc["kernels"][1]["results"]["runc-seccomp"] == "fail"


def test_flavour_of_debian_package_names() -> None:
    assert flavour_of("linux-image-6.1.0-56-cloud-amd64") == "cloud-amd64"
    assert flavour_of("linux-image-6.12.118+deb13-arm64") == "arm64"
    assert flavour_of("linux-image-6.12.95+deb12-amd64") == "amd64"
