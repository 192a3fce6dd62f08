"""MkDocs hook: let Material's social cards build offline, or skip them with a clear warning.

The social plugin downloads its font from Google Fonts the first time; builds here are offline.
Matplotlib (a dependency of the engine) bundles DejaVu Sans, so this hook puts those files where
the plugin looks for a downloaded font. If cairo, the library the plugin draws with, is missing
on this machine, the hook turns the plugin off and says how to install it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority, get_plugin_logger

log = get_plugin_logger("social_fonts")
FAMILY = "DejaVu Sans"
STYLES = {
    "Regular": "DejaVuSans.ttf",
    "Bold": "DejaVuSans-Bold.ttf",
    "Italic": "DejaVuSans-Oblique.ttf",
}


@event_priority(100)  # before the social plugin checks its dependencies and fonts
def on_config(config: MkDocsConfig) -> None:
    social = config.plugins.get("material/social")
    if social is None or not social.config.enabled:
        return
    try:
        import cairosvg  # noqa: F401  (imports libcairo)
    except (ImportError, OSError) as error:
        social.config.enabled = False
        log.warning(
            f"social cards are off: the cairo graphics library is missing ({error}). "
            "Install it with `sudo apt-get install libcairo2` (Debian/Ubuntu) or "
            "`brew install cairo` (macOS); see README.md."
        )
        return
    _seed_fonts(Path(config.config_file_path).parent / social.config.cache_dir / "fonts" / FAMILY)


def _seed_fonts(folder: Path) -> None:
    source = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    folder.mkdir(parents=True, exist_ok=True)
    for style, name in STYLES.items():
        target = folder / f"{style}.ttf"
        if not target.exists():
            shutil.copyfile(source / name, target)
