from __future__ import annotations

from linuxkit_rules.core.archive.tree import Entry, Tree
from linuxkit_rules.core.debian.ca_certificates import BUNDLE, add_ca_bundle


def test_bundle_concatenates_sorted_certs_and_links_them() -> None:
    tree = Tree()
    tree.add(Entry("usr/share/ca-certificates/mozilla/B.crt", "file", data=b"-----B-----\n"))
    tree.add(Entry("usr/share/ca-certificates/mozilla/A.crt", "file", data=b"-----A-----"))
    assert add_ca_bundle(tree) == 2
    assert tree.get(BUNDLE).data == b"-----A-----\n-----B-----\n"  # type: ignore[union-attr]
    link = tree.get("etc/ssl/certs/A.pem")
    assert link is not None and link.target == "/usr/share/ca-certificates/mozilla/A.crt"


def test_no_certs_no_bundle() -> None:
    tree = Tree()
    tree.add(Entry("etc/hostname", "file", data=b"x\n"))
    assert add_ca_bundle(tree) == 0 and BUNDLE not in tree
