"""A `multipart/form-data` body split into its fields, as twine sends an upload."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser


@dataclass(frozen=True)
class FormFile:
    """A file field: the name the client gave it and its bytes."""

    filename: str
    data: bytes


@dataclass
class Form:
    """Text fields (the last value of a repeated field wins, as in Rack) and file fields."""

    fields: dict[str, str]
    files: dict[str, FormFile]


class MalformedForm(ValueError):
    """The body is not the multipart form its Content-Type announces."""


def boundary_of(content_type: str | None) -> str | None:
    """The boundary of a `multipart/form-data` Content-Type, or None for any other type."""
    message = Message()
    message["Content-Type"] = content_type or ""
    if message.get_content_type() != "multipart/form-data":
        return None
    boundary = message.get_param("boundary")
    return boundary if isinstance(boundary, str) and boundary else None


def parse(body: bytes, boundary: str) -> Form:
    """Split `body` on `boundary` (RFC 7578); raises `MalformedForm`."""
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    pieces = (b"\r\n" + body).split(delimiter)
    if len(pieces) < 2 or not pieces[-1].startswith(b"--"):
        raise MalformedForm("no closing boundary")
    form = Form({}, {})
    for piece in pieces[1:-1]:
        head, sep, data = piece.partition(b"\r\n\r\n")
        if not sep:
            raise MalformedForm("a part without headers")
        headers = HeaderParser().parsestr(head.lstrip(b" \t").lstrip(b"\r\n").decode("utf-8",
                                                                                    "replace"))
        name = headers.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise MalformedForm("a part without a name")
        filename = headers.get_filename()
        if filename is not None:
            form.files[name] = FormFile(filename, data)
        else:
            form.fields[name] = data.decode("utf-8", "replace")
    return form
