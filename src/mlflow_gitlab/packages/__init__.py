"""Files as GitLab generic packages: streamed, verified, resumable uploads and downloads.

    client = connect(gitlab_settings())
    result = upload_paths(client, *run_package(run_id, experiment_id), ["outputs"])
    download_package(client, result.manifest.package, result.manifest.version, "restored")
"""

from mlflow_gitlab.packages.download import DownloadResult, download_package, fetch_manifest
from mlflow_gitlab.packages.manifest import FileEntry, Manifest, Part
from mlflow_gitlab.packages.naming import MANIFEST, check_package
from mlflow_gitlab.packages.progress import Progress, progress_for
from mlflow_gitlab.packages.runs import (
    PACKAGE_NAME,
    PACKAGE_URL,
    PACKAGE_VERSION,
    package_from_tags,
    package_tags,
    run_package,
)
from mlflow_gitlab.packages.transport import file_url
from mlflow_gitlab.packages.upload import UploadResult, upload_paths

__all__ = [
    "MANIFEST",
    "PACKAGE_NAME",
    "PACKAGE_URL",
    "PACKAGE_VERSION",
    "DownloadResult",
    "FileEntry",
    "Manifest",
    "Part",
    "Progress",
    "UploadResult",
    "check_package",
    "download_package",
    "fetch_manifest",
    "file_url",
    "package_from_tags",
    "package_tags",
    "progress_for",
    "run_package",
    "upload_paths",
]
