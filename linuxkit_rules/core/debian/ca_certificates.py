"""What Debian's `update-ca-certificates` (run by ca-certificates' postinst,
which this project never runs) would write: the PEM bundle and per-cert links."""
from __future__ import annotations

import posixpath

from linuxkit_rules.core.archive.tree import Entry, Tree

CERTS_DIR = "usr/share/ca-certificates"
BUNDLE = "etc/ssl/certs/ca-certificates.crt"


def add_ca_bundle(tree: Tree) -> int:
    """Write BUNDLE from every `*.crt` under CERTS_DIR (sorted by path, as the
    postinst's default selection takes all of them), and `etc/ssl/certs/NAME.pem`
    links. Returns the number of certificates; 0 (and no change) without any."""
    certs = [
        e
        for e in tree.entries()
        if e.kind == "file" and e.path.startswith(CERTS_DIR + "/") and e.path.endswith(".crt")
    ]
    if not certs or BUNDLE in tree:
        return 0
    parts = []
    for e in sorted(certs, key=lambda e: e.path):
        data = e.data if e.data.endswith(b"\n") else e.data + b"\n"
        parts.append(data)
        name = posixpath.basename(e.path)[: -len(".crt")] + ".pem"
        tree.add(Entry(f"etc/ssl/certs/{name}", "symlink", 0o777, target="/" + e.path))
    tree.add(Entry(BUNDLE, "file", 0o644, data=b"".join(parts)))
    return len(certs)
