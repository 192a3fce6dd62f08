"""Social cards: fonts come from matplotlib (offline); without cairo the build warns, not crashes."""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import REPO


@pytest.fixture
def hook():
    spec = importlib.util.spec_from_file_location(
        "social_fonts", REPO / "hooks" / "social_fonts.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def config_with_social(tmp_path: Path):
    social = SimpleNamespace(config=SimpleNamespace(enabled=True, cache_dir=".cache/social"))
    plugins = {"material/social": social}
    return SimpleNamespace(plugins=plugins, config_file_path=str(tmp_path / "mkdocs.yml")), social


def test_fonts_are_seeded_where_the_plugin_looks(hook, tmp_path: Path):
    config, social = config_with_social(tmp_path)
    hook.on_config(config)
    fonts = tmp_path / ".cache" / "social" / "fonts" / "DejaVu Sans"
    assert sorted(p.name for p in fonts.iterdir()) == ["Bold.ttf", "Italic.ttf", "Regular.ttf"]
    assert social.config.enabled


def test_missing_cairo_turns_cards_off_with_advice(hook, tmp_path: Path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "cairosvg", None)  # importing it now raises ImportError
    config, social = config_with_social(tmp_path)
    with caplog.at_level(logging.WARNING):
        hook.on_config(config)
    assert social.config.enabled is False
    assert "social cards are off" in caplog.text and "apt-get install libcairo2" in caplog.text
