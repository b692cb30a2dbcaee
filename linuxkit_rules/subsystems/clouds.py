"""`[linuxkit-gcp]`, `[linuxkit-aws]`, `[linuxkit-azure]`: where `pants publish`
sends the images whose `clouds` field names them. Credentials are never
options: each cloud SDK finds them in its own default chain."""
from __future__ import annotations

from typing import Any

from pants.option.option_types import StrOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import help_text


class LinuxkitGcpSubsystem(Subsystem):
    options_scope = "linuxkit-gcp"
    help = help_text(
        """
        Google Cloud for `clouds=["gcp"]`: the `gcp` output goes to a Cloud Storage
        bucket, then a Compute Engine image is made from it. Credentials: google-auth's
        default chain (GOOGLE_APPLICATION_CREDENTIALS, `gcloud auth
        application-default login`, the metadata server).
        """
    )

    project = StrOption(default=None, help="The Compute Engine project that gets the image.")
    bucket = StrOption(default=None, help="The Cloud Storage bucket (it must exist).")
    family = StrOption(default=None, help="The image family of the new images; default: none.")
    storage_endpoint = StrOption(
        default=None,
        help="Another Cloud Storage JSON API endpoint, e.g. an emulator's `http://127.0.0.1:9023`.",
    )
    compute_endpoint = StrOption(
        default=None,
        help="Another Compute Engine API endpoint (`https://HOST`); default: Google's.",
    )

    def manifest(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "bucket": self.bucket,
            "family": self.family,
            "storage_endpoint": self.storage_endpoint,
            "compute_endpoint": self.compute_endpoint,
        }


class LinuxkitAwsSubsystem(Subsystem):
    options_scope = "linuxkit-aws"
    help = help_text(
        """
        AWS for `clouds=["aws"]`: the `aws` output goes to S3, is imported as an EBS
        snapshot and registered as an AMI. Credentials: botocore's default chain
        (AWS_ACCESS_KEY_ID..., AWS_PROFILE, ~/.aws/credentials, instance roles).
        """
    )

    bucket = StrOption(default=None, help="The S3 bucket the disk is uploaded to (it must exist).")
    region = StrOption(
        default=None, help="The region; default: AWS_DEFAULT_REGION / ~/.aws/config."
    )
    endpoint = StrOption(
        default=None,
        help="Another endpoint for S3 and EC2, e.g. moto's `http://127.0.0.1:5000`; default: AWS's.",
    )

    def manifest(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "region": self.region, "endpoint": self.endpoint}


class LinuxkitAzureSubsystem(Subsystem):
    options_scope = "linuxkit-azure"
    help = help_text(
        """
        Azure for `clouds=["azure"]`: the `azure` output goes to a page blob.
        Credentials: AZURE_STORAGE_KEY (with AZURE_STORAGE_ACCOUNT),
        AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING.
        """
    )

    account_url = StrOption(
        default=None,
        help="The storage account's blob URL, `https://ACCOUNT.blob.core.windows.net` "
        "(Azurite: `http://127.0.0.1:10000/devstoreaccount1`).",
    )
    container = StrOption(default=None, help="The blob container (it must exist).")

    def manifest(self) -> dict[str, Any]:
        return {"account_url": self.account_url, "container": self.container}
