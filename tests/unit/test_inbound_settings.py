"""[inbound] settings the fetch pass relies on, checked when the config is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.config_checks import load_settings
from bot.errors import ConfigError


def test_the_processed_folder_must_differ_from_the_polled_one(tmp_path: Path) -> None:
    """processed_folder equal to folder would make every poll find the moved replies again: the config
    is refused with a problem that names [inbound] and what to do."""
    path = tmp_path / "dunbot.toml"
    path.write_text(
        '[inbound]\nimap_host = "imap.example.com"\nusername = "ar"\nfolder = "Replies"\n'
        'processed_folder = "Replies"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    [problem] = caught.value.problems
    assert problem.startswith(f"{path}:inbound")
    assert "processed_folder is folder ('Replies')" in problem and "name another folder" in problem
