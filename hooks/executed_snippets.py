"""MkDocs hook: wires MkDocs events to the dlexec engine, nothing more.

One `ExecutedSnippets` (src/dlexec/adapter/mkdocs_hooks.py) per MkDocs process holds the state
between events; each event below hands over to it, with the priority the event needs.
"""

from __future__ import annotations

from mkdocs.plugins import event_priority

from dlexec.adapter.mkdocs_hooks import ExecutedSnippets

ADAPTER = ExecutedSnippets()


def on_startup(command: str, dirty: bool) -> None:
    ADAPTER.on_startup(command, dirty)


def on_config(config):
    ADAPTER.on_config(config)


def on_serve(server, config, builder):
    ADAPTER.on_serve(server, builder)


@event_priority(100)  # before the blog plugin collects posts and mkdocs-jupyter notebooks
def on_files(files, config):
    return ADAPTER.on_files(files, config)


@event_priority(-100)  # last: the nav as the plugins left it
def on_nav(nav, config, files):
    ADAPTER.on_nav(nav, config, files)


@event_priority(-100)  # last: the template environment as the plugins left it
def on_env(env, config, files):
    ADAPTER.on_env(env)


@event_priority(-100)  # last: the build has finished
def on_post_build(config):
    ADAPTER.on_post_build()


def on_page_markdown(markdown, page, config, files):
    return ADAPTER.on_page_markdown(markdown, page, config)


@event_priority(-100)  # last: the blog and RSS plugins have read the whole post by now
def on_page_content(html, page, config, files):
    return ADAPTER.on_page_content(html, page)


@event_priority(-110)  # after hooks/notebook_pages.py has put the run page's content in
def on_page_context(context, page, config, nav):
    return ADAPTER.on_page_context(context, page)
