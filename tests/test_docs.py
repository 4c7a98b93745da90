"""Docs that cannot drift: the README's config table and commands are checked against the code.

The config table must list every setting of every section of ``sda.config.RunConfig`` (and no
other), each with the default the dataclass gives it. Every CLI command must have help with an
example that the README also shows, and every option must be named in the README.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

import sda
from sda.cli import cli
from sda.config import RunConfig

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")

#: README keys spelled as in TOML where the dataclass field is named otherwise.
TOML_KEYS = {("rules", "[[rules.lock]]"): "locks"}


def _section_text(markdown: str, heading: str) -> str:
    """The text under ``## heading`` up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(heading)}\s*$(.*?)(?=^## |\Z)", markdown, flags=re.M | re.S)
    assert match, f"README has no '## {heading}' section"
    return match.group(1)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _names(cell: str) -> list[str]:
    """``"`a`, `b`"`` -> ``["a", "b"]``; the names are the backticked words."""
    return re.findall(r"`([^`]+)`", cell)


def readme_config_table(markdown: str = README) -> dict[tuple[str, str], str]:
    """``(section, key) -> default cell text`` for every key in the README's config table.

    A row may list several keys (``seed``, ``time_limit_s``) with one default each, comma-separated
    in the same order, or one default they all share; a blank section cell continues the section above.
    """
    rows = [line for line in _section_text(markdown, "Configuration").splitlines() if line.startswith("|")]
    assert _cells(rows[0])[:3] == ["section", "key", "default"], rows[0]
    table: dict[tuple[str, str], str] = {}
    section = ""
    for line in rows[2:]:
        section_cell, key_cell, default_cell = _cells(line)[:3]
        if section_cell:
            section = section_cell.strip("`[]")
        keys = _names(key_cell)
        defaults = [default_cell] if len(keys) == 1 else [d.strip() for d in default_cell.split(",")]
        if len(defaults) == 1:  # one default shared by every key of the row
            defaults *= len(keys)
        assert len(defaults) == len(keys), f"README row {line!r}: {len(keys)} keys but {len(defaults)} defaults"
        for key, default in zip(keys, defaults, strict=True):
            assert (section, key) not in table, f"README lists [{section}] {key} twice"
            table[(section, key)] = default
    return table


def _dataclass_of(hint: Any) -> type | None:
    """The settings class behind a ``RunConfig`` field's type (``X`` or ``X | None``), if any."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        classes = [a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)]
        return classes[0] if classes else None
    return hint if isinstance(hint, type) and dataclasses.is_dataclass(hint) else None


def code_settings() -> dict[tuple[str, str], Any]:
    """``(section, key) -> default`` (``dataclasses.MISSING`` when required) for every setting."""
    settings: dict[tuple[str, str], Any] = {}
    for section, hint in typing.get_type_hints(RunConfig).items():
        cls = _dataclass_of(hint)
        if cls is None:
            continue  # source, sha256: recorded by load_config, not settings
        _add_fields(settings, section, cls)
    return settings


def _add_fields(settings: dict[tuple[str, str], Any], section: str, cls: type) -> None:
    """A nested settings class (``[units.split]``) is a table of its own, not a key."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        nested = _dataclass_of(hints[f.name])
        if nested is not None:
            _add_fields(settings, f"{section}.{f.name}", nested)
            continue
        default = f.default
        if default is dataclasses.MISSING and f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        settings[(section, f.name)] = default


def _agrees(documented: str, default: Any) -> bool:
    """Whether the README's default cell says the same as the dataclass default."""
    text = documented.replace("`", "").replace('"', "").strip()
    if default is dataclasses.MISSING:
        return text == "(required)"
    if default is None:
        # Off or derived from something else: blank, or said in words ("the code", "first layer").
        return text == "" or not re.search(r"\d|^(true|false|\[\])$", text)
    if isinstance(default, bool):
        return text == str(default).lower()
    if isinstance(default, int | float):
        try:
            return math.isclose(float(text.replace("_", "").replace(",", "")), float(default))
        except ValueError:
            return False
    if isinstance(default, tuple | list):
        return text == ("[" + ", ".join(str(v) for v in default) + "]") or (not default and text == "")
    if isinstance(default, Path):
        return text == default.as_posix()
    return text == str(default)


def test_readme_config_table_lists_every_setting_and_no_other() -> None:
    documented = {(s, TOML_KEYS.get((s, k), k)) for s, k in readme_config_table()}
    actual = set(code_settings())
    missing = sorted(f"[{s}] {k}" for s, k in actual - documented)
    extra = sorted(f"[{s}] {k}" for s, k in documented - actual)
    assert not missing, f"settings in sda/config.py missing from the README's config table: {missing}"
    assert not extra, f"README's config table lists settings sda/config.py does not have: {extra}"


def test_readme_config_defaults_match_the_settings_classes() -> None:
    actual = code_settings()
    wrong = []
    for (section, key), text in readme_config_table().items():
        field = TOML_KEYS.get((section, key), key)
        if (section, field) in actual and not _agrees(text, actual[(section, field)]):
            wrong.append(f"[{section}] {key}: README says {text!r}, sda/config.py has {actual[(section, field)]!r}")
    assert not wrong, "README defaults differ from the code:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    ("documented", "default", "expected"),
    [
        ("600", 600, True),
        ("150", 600, False),
        ("30000", 30_000, True),
        ("`queen`", "queen", True),
        ("`rook`", "queen", False),
        ("true", True, True),
        ("false", True, False),
        ("(required)", dataclasses.MISSING, True),
        ("", dataclasses.MISSING, False),
        ("first layer", None, True),
        ("", None, True),
        ("20", None, False),
        ("`[]`", (), True),
        ("`out`", Path("out"), True),
    ],
)
def test_default_comparison_can_fail(documented: str, default: Any, expected: bool) -> None:
    assert _agrees(documented, default) is expected


def test_table_parser_reads_multi_key_rows() -> None:
    text = (
        "## Configuration\n\n| section | key | default | meaning |\n| --- | --- | --- | --- |\n"
        "| `[exact]` | `enabled`, `max_units` | true, 150 | x |\n| | `time_limit_s` | 20 | y |\n## Next\n"
    )
    assert readme_config_table(text) == {
        ("exact", "enabled"): "true",
        ("exact", "max_units"): "150",
        ("exact", "time_limit_s"): "20",
    }


# --------------------------------------------------------------------------- commands


def _commands() -> dict[str, click.Command]:
    return dict(cli.commands)


def test_every_command_has_help_with_an_example_and_is_in_readme() -> None:
    for name, command in _commands().items():
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, result.output
        help_text = result.output
        assert "Example:" in help_text, f"`sda {name} --help` has no 'Example:'"
        example = help_text.split("Example:", 1)[1].strip().split("\n\n", 1)[0]
        assert f"sda {name}" in example, f"the example in `sda {name} --help` does not run `sda {name}`"
        for config in re.findall(r"--config\s+(\S+)", example):
            assert (ROOT / config).is_file(), f"`sda {name} --help` example names {config}, which does not exist"
        assert f"sda {name}" in README, f"README does not mention 'sda {name}'"
        for option in command.params:
            if isinstance(option, click.Option):
                longest = max(option.opts, key=len)
                mentioned = f"`{longest}`" in README or f"{longest} " in README
                assert mentioned, f"README does not mention `sda {name}` option {longest}"


# --------------------------------------------------------------------------- version


def test_version_is_written_once_and_reported() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "version" not in project and "version" in project["dynamic"], "pyproject.toml must read the version"
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"sda, version {sda.__version__}"
    assert f"## [{sda.__version__}]" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
