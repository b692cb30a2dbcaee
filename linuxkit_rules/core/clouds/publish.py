"""`tool cloud-publish`: publish one image's outputs to the clouds it names.

Prints one line per destination. Each cloud's options are checked by its
publisher, which names the option to set.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from linuxkit_rules.core.clouds.common import Published, write_report
from linuxkit_rules.core.manifest import Manifest

CLOUDS = ("gcp", "aws", "azure")
# The output format each cloud takes.
CLOUD_FORMATS = {"gcp": "gcp", "aws": "aws", "azure": "azure"}


def _publisher(cloud: str) -> Callable[[Mapping[str, Any]], Published]:
    if cloud == "gcp":
        from linuxkit_rules.core.clouds.gcp import publish_gcp

        return publish_gcp
    if cloud == "aws":
        from linuxkit_rules.core.clouds.aws import publish_aws

        return publish_aws
    from linuxkit_rules.core.clouds.azure import publish_azure

    return publish_azure


@dataclass(frozen=True)
class CloudPublishManifest(Manifest):
    """`tool cloud-publish`: one image's outputs, each to its cloud."""

    command = "cloud-publish"

    target: str  # the image's address, for messages
    name: str  # the image's output base name
    report: str  # the JSON report to write
    # cloud -> its [linuxkit-CLOUD] options plus `file`, the output it sends
    clouds: Mapping[str, Mapping[str, Any]]


def publish_command(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    m = CloudPublishManifest.from_json(manifest)
    # google-api-core warns about the Python version on import; Pants 2.17 needs 3.9.
    warnings.filterwarnings("ignore", category=FutureWarning)
    results = []
    for cloud, options in sorted(m.clouds.items()):
        published = _publisher(cloud)({**options, "target": m.target, "name": m.name})
        print(published.line(), flush=True)
        results.append(published)
        write_report(m.report, results)
    return {"published": len(results), "uploaded": sum(r.uploaded for r in results)}
