"""Settings: typed, from COUNCIL_* variables, and every one documented in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from council.settings import Settings, parse_rate

README = Path(__file__).parent.parent / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    documented = set(re.findall(r"`(COUNCIL_[A-Z0-9_]+)`", README.read_text()))
    expected = {f"COUNCIL_{name.upper()}" for name in Settings.model_fields}
    assert expected - documented == set(), "undocumented settings"
    assert documented - expected == set(), "README documents settings that do not exist"


def test_settings_come_from_council_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COUNCIL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COUNCIL_SUBMISSION_RATE_LIMIT", "3/hour")
    settings = Settings(_env_file=None)
    assert settings.data_dir == tmp_path
    assert settings.submission_rate_limit == "3/hour"
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve()}/council.db"


def test_a_bad_rate_is_refused_with_an_example(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNCIL_SUBMISSION_RATE_LIMIT", "lots")
    with pytest.raises(ValidationError, match="5/minute"):
        Settings(_env_file=None)


@pytest.mark.parametrize(("text", "parsed"), [("5/minute", (5, 60)), (" 2 / hour", (2, 3600))])
def test_rates_parse(text: str, parsed: tuple[int, int]) -> None:
    assert parse_rate(text) == parsed


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path, _env_file=None).resolved_secret_key()
    again = Settings(data_dir=tmp_path, _env_file=None).resolved_secret_key()
    assert first == again and len(first) >= 48
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0, "readable by the owner only"
