"""The bad-input corpus: every case in tests/corpus/ goes through the real command line.

Each case is a folder ``tests/corpus/<case>/`` holding a ``config.toml`` (paths relative to it,
pointing at small damaged files in the folder, made by ``tests/corpus/make_corpus.py``, or at the
good fixtures in ``tests/data``) and an ``expected.txt``::

    # What the officer did wrong, in one line.
    exit: 1
    contains: units.geojson, row 2, code 'E01000002', field 'pop'
    contains: expected a whole number >= 0

``exit`` is the documented exit code (README, ``sda.errors``); every ``contains`` line must
appear in the output as written. ``config: <path>`` replaces ``config.toml`` (for a bad
``--config`` argument); ``commands: check`` limits the commands run (default both ``check`` and
``propose``). ``plan: <file>`` names a plan file in the case folder, passed as the PLAN argument
of ``evaluate`` and ``repair`` (``commands: evaluate repair``). Every command must fail with
that code and message, print no traceback, and leave no output behind: ``propose``,
``evaluate`` and ``repair`` write nothing to their ``--out`` folder, and no file in the corpus or
in ``tests/data`` is created or changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from sda.cli import cli

CORPUS = Path(__file__).resolve().parent / "corpus"
DATA = Path(__file__).resolve().parent / "data"
COMMANDS = ("check", "propose")
#: Commands that take a plan file (``plan:`` in expected.txt) as their PLAN argument.
PLAN_COMMANDS = ("evaluate", "repair")
#: propose is bounded so that a case that wrongly passes still ends quickly.
PROPOSE_FLAGS = ("--steps", "20", "--starts", "1", "--no-exact", "--no-tradeoffs")
MIN_CASES = 40


@dataclass(frozen=True)
class Case:
    """One bad input and the answer it must get."""

    name: str
    folder: Path
    config: Path
    exit_code: int
    contains: tuple[str, ...]
    commands: tuple[str, ...]
    plan: Path | None = None


def _read_case(folder: Path) -> Case:
    settings: dict[str, str] = {}
    contains: list[str] = []
    for number, line in enumerate((folder / "expected.txt").read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        key, sep, value = line.partition(": ")
        if not sep or key not in ("exit", "contains", "config", "commands", "plan"):
            msg = (
                f"{folder.name}/expected.txt, line {number}: expected 'exit: N', 'contains: text', "
                "'config: path', 'commands: ...' or 'plan: file'"
            )
            raise ValueError(msg)
        if key == "contains":
            contains.append(value)
        else:
            settings[key] = value.strip()
    return Case(
        name=folder.name,
        folder=folder,
        config=folder / settings.get("config", "config.toml"),
        exit_code=int(settings["exit"]),
        contains=tuple(contains),
        commands=tuple(settings.get("commands", " ".join(COMMANDS)).split()),
        plan=folder / settings["plan"] if "plan" in settings else None,
    )


def corpus_cases() -> list[Case]:
    """Every case folder (folders starting with ``_`` hold controls, not cases)."""
    folders = sorted(p for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    return [_read_case(folder) for folder in folders]


CASES = corpus_cases()


def _snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file under ``folders`` (to see that nothing was written)."""
    return {
        str(p): (p.stat().st_size, p.stat().st_mtime_ns)
        for folder in folders
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def _run(args: list[str]) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output, result.exception


@pytest.mark.filterwarnings("always::sda.errors.SdaWarning")
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gets_a_clear_message_and_writes_nothing(case: Case, tmp_path: Path) -> None:
    assert case.contains, f"{case.name}: expected.txt lists no 'contains:' lines"
    assert case.exit_code in (1, 2, 3), f"{case.name}: a bad input must exit 1, 2 or 3 (README, Exit codes)"
    before = _snapshot(case.folder, DATA)
    for command in case.commands:
        out = tmp_path / f"out-{command}"
        args = [command, "--config", str(case.config)]
        if command == "propose":
            args += ["--out", str(out), *PROPOSE_FLAGS]
        if command in PLAN_COMMANDS:
            assert case.plan is not None, f"{case.name}: 'plan: file' is needed for sda {command}"
            args += [str(case.plan), "--out", str(out)]
        code, output, exception = _run(args)
        shown = f"sda {command} on {case.name} printed:\n{output}"
        assert code == case.exit_code, shown
        assert exception is None or isinstance(exception, SystemExit), f"{shown}\nraised {exception!r}"
        assert "Traceback" not in output, shown
        assert "Error: " in output, shown
        missing = [part for part in case.contains if part not in output]
        assert not missing, f"{shown}\nmissing: {missing}"
        assert not out.exists(), f"sda {command} on {case.name} left {sorted(out.rglob('*'))}"
    assert _snapshot(case.folder, DATA) == before, f"{case.name}: files in the corpus or tests/data changed"


def test_corpus_has_at_least_40_distinct_cases() -> None:
    assert len(CASES) >= MIN_CASES
    descriptions = [(c.folder / "expected.txt").read_text(encoding="utf-8").splitlines()[0] for c in CASES]
    assert all(d.startswith("# ") for d in descriptions), "each expected.txt opens with '# what is wrong'"
    assert len(set(descriptions)) == len(CASES), "two cases describe the same damage"
    assert len({c.contains for c in CASES}) == len(CASES), "two cases expect the same message"


def test_every_case_has_its_config_and_every_exit_code_is_covered() -> None:
    for case in CASES:
        if case.config.name == "config.toml":
            assert case.config.is_file(), f"{case.name} has no config.toml"
    assert {c.exit_code for c in CASES} == {1, 2, 3}


@pytest.mark.parametrize("control", sorted((CORPUS / "_controls").glob("*.toml")), ids=lambda p: p.stem)
def test_controls_pass_so_each_case_fails_for_its_own_damage(control: Path) -> None:
    code, output, _ = _run(["check", "--config", str(control), "--quiet"])
    assert code == 0, output
