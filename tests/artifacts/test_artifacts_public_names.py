"""The artifacts package exports exactly its public surface."""

from __future__ import annotations

import subprocess
import sys

import reconciler.artifacts


def test_artifacts_exports() -> None:
    assert sorted(reconciler.artifacts.__all__) == [
        "AccessDenied",
        "ArtifactError",
        "ArtifactNotFound",
        "ArtifactRef",
        "ArtifactStore",
        "IntegrityError",
        "LocalArtifactStore",
        "S3ArtifactStore",
        "S3Config",
        "StoreNotConfigured",
        "StoreUnavailable",
        "fetch_verified",
        "local_path",
        "open_store",
        "sha256_file",
    ]


def test_importing_the_package_does_not_import_boto3() -> None:
    # `reconciler validate` and the daemon's other paths must not pay boto3's import time.
    code = "import sys, reconciler.artifacts; print('boto3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
