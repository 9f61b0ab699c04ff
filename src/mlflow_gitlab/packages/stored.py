"""What a generic package version already holds, from the packages API.

Used to resume: a file already stored under the same name with the same SHA-256 is not
sent again. Only the newest package of a name and version counts, because that is the one
GitLab's download route reads from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote

from mlflow_gitlab.gitlab_api import GitLabClient, ProjectAPI


@dataclass(frozen=True)
class StoredFile:
    name: str  # `/`-separated, as in the manifest
    size: int
    sha256: str | None
    # (id, SHA-256) of every stored file of this name, oldest first; the last one is this.
    versions: tuple[tuple[int, str | None], ...] = ()

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(i for i, _ in self.versions)


@dataclass(frozen=True)
class StoredPackage:
    """The newest package of a name and version; `id` is None when there is none yet."""

    id: int | None = None
    files: dict[str, StoredFile] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return self.id is not None


def stored_package(client: GitLabClient, name: str, version: str) -> StoredPackage:
    """The newest generic package `name`/`version` and its newest file of each name.

    Raises:
        GitLabAPIError, ConfigError: the packages API cannot be read.
    """
    what = f"list the files of package {name} {version}"
    # `package_name` is a substring match on GitLab: keep exact matches only.
    api = ProjectAPI(client)
    candidates = [p for p in api.packages(name, version, keys=("id", "name", "version"),
                                               what=what)
                  if p.get("name") == name and p.get("version") == version]
    if not candidates:
        return StoredPackage()
    package_id = max(int(p["id"]) for p in candidates)
    files: dict[str, StoredFile] = {}
    # Files come oldest first (order_by=id): a later duplicate of a name replaces an earlier.
    for item in api.package_files(package_id, what):
        # A file under a path is stored URL-encoded (`dir%2Ffile`).
        stored_name = unquote(item["file_name"])
        earlier = files[stored_name].versions if stored_name in files else ()
        sha256 = item.get("file_sha256")
        files[stored_name] = StoredFile(stored_name, int(item["size"]), sha256,
                                        (*earlier, (int(item["id"]), sha256)))
    return StoredPackage(package_id, files)
