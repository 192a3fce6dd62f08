"""A committed result is untrusted input: what `load_result` accepts beyond its checksum.

A checksum proves nothing about who wrote a result (any pull request can recompute it), so a
result is accepted only in the form the engine itself writes:

- `result.json` has the engine's structure and types (a JSON Schema, checked by fastjsonschema);
- every file it names is a plain file in the result's own folder (a bare name: no path, no `..`,
  no symlink), read without following links, and used by one of its outputs;
- a figure is a PNG or JPEG named after the digest of its bytes, no larger than capture keeps;
- a training-curve SVG is named after the digest of a history in the result, and holds only
  the elements and attributes matplotlib writes (no script, no event handler, no outside link).

Whether the numbers came from the snippet is `make verify-results`' question: it re-runs it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from ..files import atomic_write
from ..limits import MAX_IMAGE_BYTES, MAX_STRING_VALUE
from .curves import curve_names, panel_names

FIGURE_NAME = re.compile(r"figure-(?P<digest>[0-9a-f]{16})\.(?P<extension>png|jpg)")
CURVE_NAME = re.compile(r"curves-[0-9a-f]{16}-(?:card|\d{1,3}-(?:light|dark))\.svg")
MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "jpg": b"\xff\xd8\xff"}
MIME = {"png": "image/png", "jpg": "image/jpeg"}
MAX_CURVE_BYTES = 32 * 1024 * 1024  # 100,000 epochs of several metrics, as capture allows
MAX_RESULT_BYTES = 256 * 1024 * 1024  # result.json itself
MAX_NAME = 200

SVG = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
CC = "{http://creativecommons.org/ns#}"
DC = "{http://purl.org/dc/elements/1.1/}"
# What matplotlib's SVG backend writes for a line plot with text as text (`svg.fonttype: none`).
SVG_TAGS = {
    *(SVG + tag for tag in ("svg", "g", "use", "path", "text", "defs", "clipPath", "rect")),
    *(SVG + tag for tag in ("style", "metadata")),
    RDF + "RDF",
    CC + "Work",
    CC + "Agent",
    *(DC + tag for tag in ("type", "format", "creator", "title", "date")),
}
SVG_ATTRIBUTES = {
    "style", "id", "x", "y", "d", "transform", "clip-path", "width", "height", "viewBox",
    "version", "type", XLINK_HREF, RDF + "resource",
}  # fmt: skip
# matplotlib's prolog, exactly: no other DOCTYPE (entities) and no processing instruction (an
# `xml-stylesheet` would load a style sheet or XSLT when the file is opened by itself).
SVG_PROLOG = (
    b'<?xml version="1.0" encoding="utf-8" standalone="no"?>\n'
    b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN"\n'
    b'  "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
)
OUTSIDE_REFERENCE = re.compile(r"url\(\s*(?!#)|@import|javascript:|expression\(", re.IGNORECASE)

HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
SHORT = {"type": "string", "maxLength": MAX_NAME}
PLAIN_VALUE = {  # what `_kernel` publishes as a value: a number, a boolean or a short string
    "anyOf": [{"type": ["number", "boolean"]}, {"type": "string", "maxLength": MAX_STRING_VALUE}]
}
PROVENANCE = {
    "type": "object",
    "additionalProperties": {
        "anyOf": [
            {"type": ["number", "null"]},
            {"type": "string", "maxLength": MAX_NAME},
            {"type": "array", "maxItems": 100_000, "items": {"type": ["number", "null"]}},
        ]
    },
}
KEY = {"type": "string", "maxLength": 64}  # compared with the key computed now: any other misses
LINES = {"type": "array", "items": {"type": "string"}}
OPTIONAL_INT = {"type": ["integer", "null"]}
NUMBER_OR_NULL = {"type": ["number", "null"]}


def _output(kind: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [*properties, "type"],
        "additionalProperties": False,
        "properties": {**properties, "type": {"const": kind}},
    }


OUTPUT = {
    "anyOf": [
        _output("text", {"stream": {"enum": ["stdout", "stderr", "result"]}, "text": LINES}),
        _output(
            "image",
            {
                "file": {"type": "string"},
                "mime": {"enum": sorted(MIME.values())},
                "width": OPTIONAL_INT,
                "height": OPTIONAL_INT,
            },
        ),
        _output(
            "history",
            {
                "model": SHORT,
                "epochs": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                "metrics": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": NUMBER_OR_NULL},
                },
                "plots": {"type": "object", "additionalProperties": {"type": "string"}},
                "restored_epoch": OPTIONAL_INT,
            },
        ),
        _output("error", {"ename": {"type": "string"}, "evalue": LINES, "traceback": LINES}),
    ]
}
SCHEMA = {
    "type": "object",
    "required": ["snippet", "key", "inputs", "provenance", "cells", "values", "files"],
    "additionalProperties": False,
    "properties": {
        "snippet": {"type": "string", "pattern": r"^[\w./-]{1,300}\.py$"},
        "key": KEY,
        "inputs": {
            "type": "object",
            "required": ["source_sha256", "engine", "tensorflow", "keras", "data"],
            "additionalProperties": False,
            "properties": {
                "source_sha256": KEY,
                "engine": {"type": "string"},
                "tensorflow": {"type": "string"},
                "keras": {"type": "string"},
                "data": {"type": "object", "additionalProperties": HEX64},
            },
        },
        "provenance": PROVENANCE,
        "cells": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["index", "name", "outputs"],
                "additionalProperties": False,
                "properties": {
                    "index": {"type": "integer", "minimum": 0},
                    "name": {"anyOf": [SHORT, {"type": "null"}]},
                    "outputs": {"type": "array", "items": OUTPUT},
                },
            },
        },
        "values": {"type": "object", "additionalProperties": PLAIN_VALUE},
        "files": {"type": "object", "additionalProperties": HEX64},
    },
}


# matrix.json beside a result: each backend's and seed's values, histories and provenance, and
# a backend's outputs (cells, and the files they show) as a result holds them.
MATRIX_SCHEMA = {
    "type": "object",
    "required": ["format", "variants"],
    "additionalProperties": False,
    "properties": {
        "format": {"type": "integer"},
        "variants": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["variant", "key", "inputs"],
                "additionalProperties": False,
                "properties": {
                    "variant": SHORT,
                    "key": KEY,
                    "inputs": {"type": "object"},
                    "values": {"type": "object", "additionalProperties": PLAIN_VALUE},
                    "histories": {"type": "array", "items": {"type": "object"}},
                    "provenance": PROVENANCE,
                    "error": {"type": ["string", "null"], "maxLength": 100_000},
                    "cells": SCHEMA["properties"]["cells"],
                    "files": SCHEMA["properties"]["files"],
                },
            },
        },
    },
}


@cache
def _validator(schema: str, compiled: Path | None) -> Callable[[Any], Any]:
    """The schema's validator. fastjsonschema generates Python for it (tens of ms per
    process): with `compiled` (a build's cache folder) the code is kept there and imported,
    bytecode and all, by the next build."""
    import fastjsonschema

    definition = SCHEMA if schema == "result" else MATRIX_SCHEMA
    if compiled is None:
        return fastjsonschema.compile(definition)
    identity = json.dumps([definition, fastjsonschema.VERSION], sort_keys=True).encode()
    path = compiled / f"{schema}_schema_{hashlib.sha256(identity).hexdigest()[:16]}.py"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, fastjsonschema.compile_to_code(definition).encode())
    spec = importlib.util.spec_from_file_location(f"dlexec_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.validate


def structure_problem(
    document: Any, schema: str = "result", compiled: Path | None = None
) -> str | None:
    """Why `document` (result.json without its checksum, or a "matrix" file) is not what the
    engine writes."""
    import fastjsonschema

    try:
        _validator(schema, compiled)(document)
    except fastjsonschema.JsonSchemaValueException as error:
        return error.message.replace("data", schema, 1)[:300]
    return None


def reference_problem(
    cells: Iterable[Any], files: Mapping[str, str], panels_only: bool = False
) -> str | None:
    """Files named by the outputs of `cells` and the `files` map must be the same set, each
    name one the engine gives, each image's MIME type that of its file, and each history's
    curve files the ones drawn from it (their names are a digest of the history; with
    `panels_only`, as a backend's record keeps them, without the notebook's card)."""
    drawn = panel_names if panels_only else curve_names
    used: set[str] = set()
    for cell in cells:
        for output in cell.outputs:
            if output.type == "image":
                match = FIGURE_NAME.fullmatch(output.file)
                if not match or MIME[match["extension"]] != output.mime:
                    wanted = f"a name the engine gives a {output.mime} figure"
                    return f"{output.file!r:.80} is not {wanted}"
                used.add(output.file)
            elif output.type == "history":
                expected = drawn(output) if output.epochs else {}
                if output.plots != expected:
                    return f"the curve files of model {output.model!r:.80} are not its history's"
                used.update(expected.values())
    if used != set(files):
        odd = sorted(used ^ set(files))[0]
        return f"file {odd!r:.80} is in the files map or used by an output, not both"
    return None


def read_file(
    folder: Path, name: str, expected_sha256: str, checked: Path | None = None
) -> tuple[bytes | None, str | None]:
    """(content, None) for a plain file `name` of `folder` whose bytes match; else
    (None, why). Opened without following a symlink, so a link never reads the machine.
    `checked`: a folder of markers for contents already found sound (a build's own cache: a
    curve SVG is parsed once per machine, not at every build)."""
    limit = MAX_CURVE_BYTES if CURVE_NAME.fullmatch(name) else MAX_IMAGE_BYTES
    if not (FIGURE_NAME.fullmatch(name) or CURVE_NAME.fullmatch(name)):
        return None, f"{name!r:.80} is not a file name the engine writes"
    try:
        handle = os.open(folder / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        return None, f"{name}: cannot be opened as a plain file ({error.strerror})"
    with os.fdopen(handle, "rb") as stream:
        status = os.fstat(stream.fileno())
        if not stat.S_ISREG(status.st_mode):
            return None, f"{name}: not a regular file"
        if status.st_size > limit:
            return None, f"{name}: {status.st_size:,} bytes, over the {limit:,} the engine writes"
        content = stream.read(limit + 1)
    if hashlib.sha256(content).hexdigest() != expected_sha256:
        return None, f"{name}: missing or changed since the run"
    marker = checked / f"{expected_sha256}-{name}" if checked else None
    if marker is not None and marker.exists():
        return content, None
    problem = content_problem(name, content)
    if marker is not None and problem is None:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    return content, problem


def content_problem(name: str, content: bytes) -> str | None:
    """Whether a file's bytes are of the type its name says, as the engine writes it."""
    figure = FIGURE_NAME.fullmatch(name)
    if figure:
        if hashlib.sha256(content).hexdigest()[:16] != figure["digest"]:
            return f"{name}: a figure's name is the digest of its bytes, and these differ"
        if not content.startswith(MAGIC[figure["extension"]]):
            return f"{name}: not a {figure['extension'].upper()} image"
        return None
    problem = svg_problem(content)
    return f"{name}: {problem}" if problem else None


def svg_problem(content: bytes) -> str | None:
    """Why `content` is not a training-curve SVG as matplotlib writes it (None when it is)."""
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    body = content[len(SVG_PROLOG) :]
    if not content.startswith(SVG_PROLOG) or not body.startswith(b"<svg ") or b"<?" in body:
        return "not an SVG document as matplotlib writes it (its prolog differs)"
    try:
        root = fromstring(content)
    except (ParseError, DefusedXmlException, ValueError) as error:
        return f"not a well-formed SVG document ({str(error)[:100]})"
    for element in root.iter():
        if element.tag not in SVG_TAGS:
            return f"element {element.tag!r:.80} is not one matplotlib draws curves with"
        for attribute, value in element.attrib.items():
            if attribute not in SVG_ATTRIBUTES:
                return f"attribute {attribute!r:.80} is not one matplotlib writes"
            if attribute == XLINK_HREF and not value.startswith("#"):
                return "a link leaves the document"
            if OUTSIDE_REFERENCE.search(value):
                return "a style refers outside the document"
        if element.tag == SVG + "style" and OUTSIDE_REFERENCE.search(element.text or ""):
            return "a style sheet refers outside the document"
    return None
