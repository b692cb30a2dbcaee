"""`tool cloud-publish`: publish one image's outputs to the clouds it names.

The manifest: `target`, `name` (the image's base name), `report` (the JSON
file to write) and `clouds`: cloud -> its options plus `file` (the output to
send). Prints one line per destination.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, Mapping

from linuxkit_rules.core.clouds.common import Published, write_report

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


def publish_command(m: Mapping[str, Any]) -> Mapping[str, Any]:
    # google-api-core warns about the Python version on import; Pants 2.17 needs 3.9.
    warnings.filterwarnings("ignore", category=FutureWarning)
    results = []
    for cloud, options in sorted(m["clouds"].items()):
        published = _publisher(cloud)({**options, "target": m["target"], "name": m["name"]})
        print(published.line(), flush=True)
        results.append(published)
        write_report(m["report"], results)
    return {"published": len(results), "uploaded": sum(r.uploaded for r in results)}
