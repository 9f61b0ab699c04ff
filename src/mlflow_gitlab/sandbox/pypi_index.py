"""PyPI package rules and pages as GitLab has them: names, versions, PEP 503 HTML.

Sources: `app/models/packages/pypi/package.rb` (name and version validation, PEP 503
normalisation), `lib/gitlab/regex/packages.rb` (the regexes) and the presenters
`app/presenters/packages/pypi/simple_*_presenter.rb` (the HTML, byte for byte).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

# `package_name_regex`, with Ruby's ASCII `\w` (its atomic groups as plain ones: Python 3.10).
NAME = re.compile(r"@?(?:(?:[\w\-.+]*/)*[\w\-.]+)@?(?:(?:[\w\-.+]*/)*[\w\-.]*)", re.ASCII)
# `pypi_version_regex` (PEP 440 as packaging 16.7 spelled it), case-insensitive.
VERSION = re.compile(r"""
    v?
    (?:[0-9]+!)?
    [0-9]+(?:\.[0-9]+)*
    (?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?[0-9]*)?
    (?:(?:-[0-9]+)|(?:[-_.]?(?:post|rev|r)[-_.]?[0-9]*))?
    (?:[-_.]?dev[-_.]?[0-9]*)?
    (?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?
""", re.VERBOSE | re.IGNORECASE)
SHA256 = re.compile(r"[0-9a-f]{64}", re.IGNORECASE)
REQUIRED_PYTHON_MAX = 255  # `Packages::Pypi::Metadatum`
_SEPARATORS = re.compile(r"[-_.]+")  # `PYPI_NORMALIZED_NAME_REGEX_STRING`
_ERB_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}


@dataclass(frozen=True)
class Link:
    """One anchor of a simple page."""

    href: str
    requires_python: str
    text: str


def normalized(name: str) -> str:
    """PEP 503's normalised name (`normalized_pypi_name`)."""
    return _SEPARATORS.sub("-", name).lower()


def validation_errors(name: str, version: str) -> list[str]:
    """The model validations an upload fails, in GitLab's order and wording."""
    errors = []
    if not VERSION.fullmatch(version):
        errors.append("Version is invalid")
    if not NAME.fullmatch(name):
        errors.append("Name is invalid")
    return errors


def fitted_requires_python(value: str) -> str:
    """`truncate_fields`: a value past the column's 255 characters is cut, Rails'
    `String#truncate` ending it in `...`, and the upload goes on."""
    if len(value) <= REQUIRED_PYTHON_MAX:
        return value
    return value[:REQUIRED_PYTHON_MAX - 3] + "..."


def file_url(api_url: str, project_id: int, sha256: str, file_name: str) -> str:
    """A file's download URL with its `#sha256=` fragment, as the index links it."""
    return (f"{api_url}/projects/{project_id}/packages/pypi/files/{sha256}/"
            f"{quote(file_name)}#sha256={sha256}")


def package_url(api_url: str, project_id: int, name: str) -> str:
    """A package's simple page, linked from the project's index under its normalised name."""
    return f"{api_url}/projects/{project_id}/packages/pypi/simple/{quote(normalized(name))}"


def page(title: str, links: Iterable[Link]) -> str:
    """`SimplePresenterBase#body`: the heredoc keeps its indentation but for the first
    line's, which `lstrip` takes off."""
    anchors = "".join(f'<a href="{link.href}" data-requires-python="'
                      f'{escape(link.requires_python)}">{link.text}</a>' for link in links)
    return (f"<!DOCTYPE html>\n"
            f"        <html>\n"
            f"          <head>\n"
            f"            <title>Links for {escape(title)}</title>\n"
            f"          </head>\n"
            f"          <body>\n"
            f"            <h1>Links for {escape(title)}</h1>\n"
            f"            {anchors}\n"
            f"          </body>\n"
            f"        </html>\n")


def escape(text: str) -> str:
    """`ERB::Util.html_escape`."""
    return "".join(_ERB_ESCAPES.get(ch, ch) for ch in text)
