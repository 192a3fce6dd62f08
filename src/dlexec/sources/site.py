"""The site's `mkdocs.yml` as plain data (its `!!python/name` tags left unresolved)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml


class _MkDocsLoader(yaml.SafeLoader):
    """mkdocs.yml as plain YAML: its tags (`!!python/name:...`, `!ENV`) are read as None."""


_MkDocsLoader.add_multi_constructor("", lambda loader, suffix, node: None)


def mkdocs_settings(root: Path) -> dict:
    """The top-level settings of `root/mkdocs.yml`, unvalidated; {} when it cannot be read."""
    try:
        settings = yaml.load((root / "mkdocs.yml").read_text(encoding="utf-8"), _MkDocsLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return settings if isinstance(settings, dict) else {}


# Material's blog plugin (`_format_path_for_post`) publishes a post at its `post_url_format`
# (default "{date}/{slug}"), the date formatted by `post_url_date_format` (default
# "yyyy/MM/dd"), the slug the front matter's `slug` or the title slugified. The engine
# reproduces the defaults to link a notebook to its page; tests/test_real_site.py checks each
# post's address against the built site. Another format gives no link, never a wrong one.
DATE_TOKENS = {"yyyy": "%Y", "MM": "%m", "dd": "%d"}
HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


def post_page_url(settings: Mapping[str, Any], meta: Mapping[str, Any], body: str) -> str | None:
    """The published address of a post (front matter `meta`, Markdown `body`), from the
    site's settings; None when the site or the post does not say enough to know it."""
    blog = _blog_settings(settings)
    site_url = settings.get("site_url")
    if (
        blog is None
        or not isinstance(site_url, str)
        or not site_url.startswith(("https://", "http://"))
    ):
        return None
    url_format = blog.get("post_url_format", "{date}/{slug}")
    date_format = blog.get("post_url_date_format", "yyyy/MM/dd")
    date = _created(meta.get("date"))
    title = meta.get("title") or next((m[1] for m in HEADING.finditer(body)), None)
    if url_format != "{date}/{slug}" or not isinstance(title, str) or date is None:
        return None
    parts = re.split(r"(yyyy|MM|dd)", date_format)
    if "".join(parts[1::2]) != "yyyyMMdd" or not all(re.fullmatch(r"[/-]*", p) for p in parts[::2]):
        return None
    dated = date.strftime("".join(DATE_TOKENS.get(part, part) for part in parts))
    slug = meta.get("slug") if isinstance(meta.get("slug"), str) else _slug(title)
    return f"{site_url.rstrip('/')}/{dated.strip('/')}/{slug}/"


def _blog_settings(settings: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for plugin in settings.get("plugins") or []:
        if plugin == "blog":
            return {}
        if isinstance(plugin, dict) and "blog" in plugin:
            return plugin["blog"] if isinstance(plugin["blog"], dict) else {}
    return None


def _created(value: object) -> datetime.date | None:
    """The post's creation date: `date:` itself or its `created:` entry."""
    if isinstance(value, dict):
        value = value.get("created")
    return value if isinstance(value, datetime.date) else None


def _slug(title: str) -> str:
    from pymdownx.slugs import slugify

    return slugify(case="lower")(title, "-")
