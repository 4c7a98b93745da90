"""Tests for sda.config: unknown keys refused by name, values range-checked, paths relative to the file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sda.config import LockConfig, RunConfig, config_from_dict, load_config
from sda.errors import ConfigError

MINIMAL = '[units]\npath = "units.gpkg"\ncode_field = "CODE"\n'


def write(tmp_path: Path, text: str, name: str = "run.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def base(**sections: dict) -> dict:
    raw: dict = {"units": {"path": "units.gpkg", "code_field": "CODE"}}
    raw.update(sections)
    return raw


# --------------------------------------------------------------------------- reading the file


def test_minimal_config_gets_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    cfg = load_config(path)
    assert isinstance(cfg, RunConfig)
    assert cfg.units.code_field == "CODE"
    assert (cfg.areas.min_population, cfg.areas.max_population) == (30_000, 50_000)
    assert cfg.areas.count == "auto"
    assert cfg.source == path
    assert cfg.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_missing_file_is_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"nope\.toml: cannot read the config file"):
        load_config(missing)


def test_not_toml_is_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[units\npath = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_missing_units_section(tmp_path: Path) -> None:
    path = write(tmp_path, "[areas]\ncount = 3\n")
    with pytest.raises(ConfigError, match=r"missing section \[units\]"):
        load_config(path)


def test_units_without_code_field_is_incomplete() -> None:
    with pytest.raises(ConfigError, match=r"\[units\] is incomplete"):
        config_from_dict({"units": {"path": "u.gpkg"}})


# --------------------------------------------------------------------------- unknown names


def test_unknown_section_names_section_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "[aeras]\ncount = 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert str(path) in msg
    assert "unknown section [aeras]" in msg


def test_unknown_key_names_key_section_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "[areas]\nmin_pop = 100\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}:")
    assert "unknown key 'min_pop' in [areas]" in msg
    assert "min_population" in msg  # lists the keys that are allowed


def test_unknown_key_in_rules_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "[rules]\nkeep_togther = []\n")
    with pytest.raises(ConfigError, match=r"unknown key 'keep_togther' in \[rules\]") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_unknown_key_in_lock_is_refused() -> None:
    raw = base(rules={"lock": [{"area": "North", "units": ["A"], "colour": "red"}]})
    with pytest.raises(ConfigError, match=r"unknown key 'colour' in \[\[rules.lock\]\] 'North'"):
        config_from_dict(raw)


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(("lo", "hi"), [(50_000, 50_000), (60_000, 50_000)])
def test_min_not_below_max_is_refused(tmp_path: Path, lo: int, hi: int) -> None:
    path = write(tmp_path, MINIMAL + f"[areas]\nmin_population = {lo}\nmax_population = {hi}\n")
    with pytest.raises(ConfigError, match=rf"min_population \({lo}\) must be below max_population \({hi}\)") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_negative_min_population_is_refused() -> None:
    with pytest.raises(ConfigError, match="min_population = -1"):
        config_from_dict(base(areas={"min_population": -1}))


def test_count_auto_and_int_accepted() -> None:
    assert config_from_dict(base(areas={"count": "auto"})).areas.count == "auto"
    assert config_from_dict(base(areas={"count": 7})).areas.count == 7


@pytest.mark.parametrize("bad", [0, -3, "many", "Auto", True, 2.5])
def test_bad_count_refused(bad: object) -> None:
    with pytest.raises(ConfigError, match=r"\[areas\] count = "):
        config_from_dict(base(areas={"count": bad}))


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("graph", "contiguity", "bishop"),
        ("graph", "islands", "sink"),
        ("graph", "cut_measure", "edges"),
        ("graph", "snap_m", -1),
        ("pcn", "method", "closest"),
        ("objective", "pcn", -0.5),
        ("search", "time_limit_s", -1),
        ("search", "starts", 0),
        ("search", "jobs", -1),
        ("search", "jobs", True),
        ("areas", "target_population", 0),
    ],
)
def test_out_of_range_values_refused(section: str, key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=rf"\[{section}\] {key} = "):
        config_from_dict(base(**{section: {key: value}}))


def test_shares_method_needs_shares_file() -> None:
    with pytest.raises(ConfigError, match='method = "shares" needs shares'):
        config_from_dict(base(pcn={"method": "shares"}))


def test_all_problems_reported_together() -> None:
    raw = base(areas={"count": 0}, search={"starts": 0})
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw)
    assert "[areas] count" in str(info.value)
    assert "[search] starts" in str(info.value)


# --------------------------------------------------------------------------- paths


def test_paths_resolved_relative_to_config_file(tmp_path: Path) -> None:
    folder = tmp_path / "configs"
    folder.mkdir()
    path = write(
        folder,
        '[units]\npath = "../data/units.gpkg"\ncode_field = "CODE"\npopulation_csv = "pop.csv"\n'
        '[pcn]\npractices = "gp/practices.csv"\n[output]\ndir = "results"\n',
    )
    cfg = load_config(path)
    assert cfg.units.path == tmp_path / "data" / "units.gpkg"  # normalised: no "configs/../data"
    assert cfg.units.path.resolve() == (tmp_path / "data" / "units.gpkg").resolve()
    assert cfg.units.population_csv == folder / "pop.csv"
    assert cfg.pcn.practices == folder / "gp" / "practices.csv"
    assert cfg.output.dir == folder / "results"


def test_paths_independent_of_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, MINIMAL)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_config(path).units.path == tmp_path / "units.gpkg"


def test_a_path_from_the_home_folder_is_put_there_not_in_a_folder_named_tilde(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # dir = "~/sda-out" wrote the run into configs/~/sda-out: a folder named "~" beside the config.
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))  # Windows' home
    folder = tmp_path / "configs"
    folder.mkdir()
    text = '[units]\npath = "~/data/units.gpkg"\ncode_field = "CODE"\n[output]\ndir = "~/sda-out"\n'
    cfg = load_config(write(folder, text))
    assert cfg.units.path == home / "data" / "units.gpkg"
    assert cfg.output.dir == home / "sda-out"
    text = '[units]\npath = "~nosuchuser-sda/units.gpkg"\ncode_field = "CODE"\n'
    with pytest.raises(ConfigError, match=r"\[units\] path = '~nosuchuser-sda/units.gpkg' starts with '~', a home"):
        load_config(write(folder, text))


def test_empty_path_means_none() -> None:
    cfg = config_from_dict(base(pcn={"practices": ""}))
    assert cfg.pcn.practices is None


def test_to_dict_is_plain() -> None:
    cfg = config_from_dict(base(rules={"keep_apart": [["A", "B"]]}), source=Path("x") / "run.toml")
    out = cfg.to_dict()
    assert out["units"]["path"] == "x/units.gpkg"
    assert out["rules"]["keep_apart"] == [["A", "B"]]


# --------------------------------------------------------------------------- rules


def test_rules_parsed() -> None:
    raw = base(
        rules={
            "nest_in": "district",
            "lock": [{"area": "North", "units": ["A", "B"]}, {"area": "South", "units": ["Z"]}],
            "keep_together": [["C", "D", "E"], []],
            "keep_apart": [["A", "Z"]],
        }
    )
    raw["units"]["district_field"] = "LAD"  # nest_in = "district" needs one
    rules = config_from_dict(raw).rules
    assert rules.nest_in == "district"
    assert rules.locks == (LockConfig("North", ("A", "B")), LockConfig("South", ("Z",)))
    assert rules.keep_together == (("C", "D", "E"),)  # empty groups dropped
    assert rules.keep_apart == (("A", "Z"),)


def test_empty_nest_in_means_none() -> None:
    assert config_from_dict(base(rules={"nest_in": ""})).rules.nest_in is None


def test_bad_nest_in_refused() -> None:
    with pytest.raises(ConfigError, match="nest_in = 'county'"):
        config_from_dict(base(rules={"nest_in": "county"}))


@pytest.mark.parametrize(
    "pairs",
    [
        [["A"]],
        [["A", "B", "C"]],
        [["A", 1]],
        ["AB"],
        "A,B",
    ],
)
def test_bad_keep_apart_pairs_refused(pairs: object) -> None:
    with pytest.raises(ConfigError, match=r"\[rules\] keep_apart must be a list of \[code, code\] pairs"):
        config_from_dict(base(rules={"keep_apart": pairs}))


def test_bad_extra_links_refused() -> None:
    with pytest.raises(ConfigError, match=r"\[graph\] extra_links must be a list"):
        config_from_dict(base(graph={"extra_links": [["A", "B", "C"]]}))


def test_extra_links_parsed_to_tuples() -> None:
    cfg = config_from_dict(base(graph={"extra_links": [["A", "B"]], "remove_links": [["C", "D"]]}))
    assert cfg.graph.extra_links == (("A", "B"),)
    assert cfg.graph.remove_links == (("C", "D"),)


@pytest.mark.parametrize("groups", [["A", "B"], [["A", 2]], "A"])
def test_bad_keep_together_refused(groups: object) -> None:
    with pytest.raises(ConfigError, match="keep_together must be a list of lists of codes"):
        config_from_dict(base(rules={"keep_together": groups}))


@pytest.mark.parametrize(
    ("lock", "expected"),
    [
        ({"units": ["A"]}, r"number 1 needs area"),
        ({"area": "", "units": ["A"]}, r"number 1 needs area"),
        ({"area": "North"}, r"'North' needs a non-empty list units"),
        ({"area": "North", "units": []}, r"'North' needs a non-empty list units"),
        ({"area": "North", "units": "A"}, r"'North' needs a non-empty list units"),
    ],
)
def test_bad_lock_refused(lock: dict, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        config_from_dict(base(rules={"lock": [lock]}))


def test_lock_tables_from_toml(tmp_path: Path) -> None:
    text = MINIMAL + '[rules]\nkeep_apart = [["A", "C"]]\n[[rules.lock]]\narea = "Town"\nunits = ["A", "B"]\n'
    cfg = load_config(write(tmp_path, text))
    assert cfg.rules.locks == (LockConfig("Town", ("A", "B")),)
    assert cfg.rules.keep_apart == (("A", "C"),)


def test_non_string_path_refused() -> None:
    with pytest.raises(ConfigError, match="practices"):
        config_from_dict(base(pcn={"practices": 1}))


# --------------------------------------------------------------------------- clearer messages


def test_unknown_names_suggest_the_nearest(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'min_pop' in \[areas\] \(did you mean 'min_population'\?\)"):
        load_config(write(tmp_path, MINIMAL + "[areas]\nmin_pop = 100\n"))
    with pytest.raises(ConfigError, match=r"unknown section \[aeras\] \(did you mean \[areas\]\?\)"):
        load_config(write(tmp_path, MINIMAL + "[aeras]\ncount = 3\n"))


@pytest.mark.parametrize(
    ("line", "fix"),
    [
        ("min_population = 30,000", "write numbers without commas"),
        ("count = auto", "put text in double quotes"),
        # A Windows path: "Invalid hex value" came with the fix to use double quotes, which it had.
        ('names = "C:\\Users\\officer\\names.csv"', "write the path with forward slashes"),
        # A key set twice: "Cannot overwrite a value" named no key.
        ("count = 3\ncount = 4", "count is set twice in its section (this line is the second); keep one"),
    ],
)
def test_toml_error_quotes_the_line_and_the_usual_fix(tmp_path: Path, line: str, fix: str) -> None:
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_config(write(tmp_path, MINIMAL + f"[areas]\n{line}\n"))
    assert f"The line is: {line.splitlines()[-1]}" in str(info.value)
    assert fix in str(info.value)


def test_utf16_config_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_bytes(MINIMAL.encode("utf-16"))
    with pytest.raises(ConfigError, match=r"the config file is UTF-16 text .* expected UTF-8"):
        load_config(path)


def test_incomplete_units_names_the_missing_keys() -> None:
    with pytest.raises(ConfigError, match=r"\[units\] is incomplete: it needs path, code_field"):
        config_from_dict({"units": {"name_field": "NAME"}})


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("search", "starts", True, "[search] starts = true; expected a whole number, not true or false"),
        ("search", "steps", -1, "[search] steps = -1; expected a whole number >= 0"),
        ("exact", "enabled", "yes", "[exact] enabled = 'yes'; expected true or false"),
        ("tradeoffs", "time_limit_s", "10", "[tradeoffs] time_limit_s = '10'; expected a number >= 0"),
        ("areas", "min_population", "1000", "min_population = '1000' (a number in quotes is text: remove the quotes)"),
        # Removing the quotes alone would leave max_population = 50,000: a TOML syntax error.
        (
            "areas",
            "max_population",
            "50,000",
            "max_population = '50,000' (a number in quotes is text: write 50000 or 50_000, without quotes or commas)",
        ),
        ("units", "code_field", 3, "[units] code_field = 3; expected a field name in quotes"),
    ],
)
def test_wrong_types_refused(section: str, key: str, value: object, expected: str) -> None:
    raw = base()
    raw.setdefault(section, {})[key] = value
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw)
    assert expected in str(info.value)


def test_settings_that_contradict_each_other_are_refused(tmp_path: Path) -> None:
    (tmp_path / "results").write_text("a file", encoding="utf-8")
    raw = base(
        areas={"min_population": 1000, "max_population": 5000, "target_population": 8000},
        rules={"nest_in": "district"},
        pcn={"method": "shares", "shares": "shares.csv"},
        output={"dir": "results"},
    )
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw, source=tmp_path / "run.toml")
    msg = str(info.value)
    assert "[areas] target_population = 8000 is outside the band 1000-5000" in msg
    assert '[rules] nest_in = "district" needs [units] district_field' in msg
    assert '[pcn] method = "shares" also needs practices' in msg
    assert 'results" is a file; expected a folder' in msg


@pytest.mark.parametrize(
    ("names", "said"),
    [
        (["  "], "area = '  ' is blank"),
        (["Ely "], "area = 'Ely ' has spaces before or after it; expected the name alone. Fix: area = 'Ely'"),
        (["Ely", "ely"], "area 'ely' is given twice (as 'Ely' too)"),
        (["Ely", "Ely"], "area 'Ely' is given twice; expected one [[rules.lock]] per area"),
    ],
)
def test_lock_names_must_be_seen_and_told_apart(names: list[str], said: str) -> None:
    # "Ely" and "Ely " made two areas both shown as "Ely"; sda's own evaluate then called the
    # unedited plan broken, and a blank name made an area no plan reader accepts.
    locks = [{"area": name, "units": [f"E0100000{i + 1}"]} for i, name in enumerate(names)]
    with pytest.raises(ConfigError) as caught:
        config_from_dict({"units": {"path": "u.geojson", "code_field": "code"}, "rules": {"lock": locks}})
    assert said in str(caught.value)


def test_every_unknown_key_is_named_at_once() -> None:
    # Two typos were refused one a run: the officer fixed min_pop, ran again, and met max_pop.
    raw = {
        "units": {"path": "u.gpkg", "code_field": "C", "split": {"path": "f.gpkg", "code_feild": "C"}},
        "areas": {"min_pop": 3, "max_pop": 4},
        "rules": {"keep_togther": []},
    }
    with pytest.raises(ConfigError) as caught:
        config_from_dict(raw)
    text = str(caught.value)
    assert text.startswith("config: 4 unknown keys: "), text
    for part in (
        "'code_feild' in [units.split] (did you mean 'code_field'?)",
        "'min_pop' in [areas] (did you mean 'min_population'?)",
        "'max_pop' in [areas] (did you mean 'max_population'?)",
        "'keep_togther' in [rules] (did you mean 'keep_together'?)",
    ):
        assert part in text, text
