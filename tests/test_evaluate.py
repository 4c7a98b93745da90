"""sda evaluate: a real plan.gpkg edited in place by fid, as QGIS does, checked and scored."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from editing import (
    BreakingEdits,
    choose_breaking_edits,
    copy_run,
    edit_units_in_place,
    fids_of,
    merge_areas_layer_in_place,
    rename_area_in_place,
    update_in_place,
)
from helpers import cell, folder_bytes, ruled_grid

from sda.api import load_inputs
from sda.cli import cli
from sda.config import LockConfig, RulesConfig, RunConfig, UnitsConfig
from sda.errors import SdaWarning
from sda.evaluate import evaluate_plan, evaluation_text, list_violations
from sda.formatting import show_whole
from sda.planfile import read_assignment, read_planfile


@pytest.fixture(scope="module")
def edited(real_run: tuple[RunConfig, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BreakingEdits]:
    cfg, folder = real_run
    copy = copy_run(folder, tmp_path_factory.mktemp("edited") / "run")
    problem = load_inputs(cfg).problem
    edits = choose_breaking_edits(problem, read_assignment(folder).to_dict())
    fid = fids_of(copy / "plan.gpkg")
    edit_units_in_place(copy / "plan.gpkg", {fid[code]: area for code, area in edits.moves.items()})
    return copy, edits


def _config_file(cfg: RunConfig) -> str:
    assert cfg.source is not None
    return str(cfg.source)


def test_an_untouched_plan_scores_as_the_run_that_made_it(real_run: tuple[RunConfig, Path]) -> None:
    cfg, folder = real_run
    ev = evaluate_plan(cfg, folder)
    recorded = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    assert ev.ok and not ev.violations and ev.edits.empty
    assert set(recorded["scores"]) <= set(ev.plan.scores)
    for key, value in recorded["scores"].items():
        assert ev.plan.scores[key] == pytest.approx(value, rel=1e-12, nan_ok=True), key
    areas = pd.DataFrame(recorded["areas"]).set_index("area_id")
    assert ev.plan.areas["population"].to_dict() == areas["population"].to_dict()


def test_a_plan_checked_with_another_config_is_warned_about(real_run: tuple[RunConfig, Path]) -> None:
    # The Census 2021 default's plan checked with the mid-2018 config broke the band with no word
    # that it was made with other populations; the same config stays silent.
    import dataclasses
    import warnings

    cfg, folder = real_run
    with warnings.catch_warnings(record=True) as same:
        warnings.simplefilter("always")
        evaluate_plan(cfg, folder)
    assert not [w for w in same if "was made with" in str(w.message)]
    other = dataclasses.replace(cfg, sha256="0" * 64)
    with pytest.warns(SdaWarning, match=r"the plan was made with .* checked here with the populations"):
        evaluate_plan(other, folder)


def test_an_area_id_the_run_did_not_have_is_warned_about(real_run: tuple[RunConfig, Path], tmp_path: Path) -> None:
    # "sda-3" typed for SDA-03 makes a one-unit area; the warning names the id meant. A new id that
    # is no slip (SDA-99) is a new area, said without a guess.
    import warnings

    cfg, folder = real_run
    copy = copy_run(folder, tmp_path / "run")
    first, second = list(fids_of(copy / "plan.gpkg").values())[:2]
    edit_units_in_place(copy / "plan.gpkg", {first: "sda-3", second: "SDA-99"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        in_report = evaluate_plan(cfg, copy).plan.warnings
    said = [str(w.message) for w in caught if issubclass(w.category, SdaWarning)]
    assert "sda-3 is not an area of the run: the edits made it a new area of 1 unit(s). Did you mean 'SDA-03'?" in said
    assert "SDA-99 is not an area of the run: the edits made it a new area of 1 unit(s)." in said
    assert [n for n in said if "not an area of the run" in n] == [n for n in in_report if "not an area" in n]
    with warnings.catch_warnings(record=True) as untouched:
        warnings.simplefilter("always")
        evaluate_plan(cfg, folder)
    assert not [w for w in untouched if "not an area of the run" in str(w.message)]


def test_a_plan_without_its_plan_json_says_the_edits_cannot_be_listed(
    real_run: tuple[RunConfig, Path], tmp_path: Path
) -> None:
    cfg, folder = real_run
    copy = copy_run(folder, tmp_path / "run")
    (copy / "plan.json").unlink()
    with pytest.warns(SdaWarning, match=r"no plan.json beside the plan, .* Give the run's folder with --original"):
        evaluation = evaluate_plan(cfg, copy / "plan.gpkg")
    assert evaluation.run_dir is None and evaluation.edits.empty


def test_an_officers_rename_is_kept_and_said(real_run: tuple[RunConfig, Path], tmp_path: Path) -> None:
    import warnings

    cfg, folder = real_run
    copy = copy_run(folder, tmp_path / "run")
    area, old_name = next(iter(read_planfile(folder).area_names.items()))
    rename_area_in_place(copy / "plan.gpkg", area, "Fenland North")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plan = evaluate_plan(cfg, copy).plan
    assert plan.areas.loc[area, "name"] == "Fenland North"
    said = f"Renamed since the run (the new names are used): {area} {old_name!r} -> 'Fenland North'."
    assert said in [str(w.message) for w in caught]


def test_evaluate_names_the_short_area_and_the_split_one_with_numbers(
    real_run: tuple[RunConfig, Path], edited: tuple[Path, BreakingEdits], tmp_path: Path
) -> None:
    cfg, _ = real_run
    folder, edits = edited
    out = tmp_path / "evaluated"
    result = CliRunner().invoke(cli, ["evaluate", "--config", _config_file(cfg), str(folder), "--out", str(out), "-q"])
    assert result.exit_code == 5, result.output
    problem = load_inputs(cfg).problem
    original = read_assignment(folder / "assignment.csv")
    short_pop = sum(
        int(p)
        for c, p in zip(problem.codes, problem.pop, strict=True)
        if (edits.moves.get(c) or original[c]) == edits.short_area
    )
    moved = " and ".join(edits.short_units) if len(edits.short_units) <= 2 else ""
    # Areas are named as the run named them (plan.json), after their ids.
    names = {a["area_id"]: a["name"] for a in json.loads((folder / "plan.json").read_text(encoding="utf-8"))["areas"]}
    expected = (
        f"{edits.short_area} ({names[edits.short_area]}): {show_whole(short_pop)} residents, "
        f"{show_whole(problem.min_pop - short_pop)} below the minimum of 30,000, after {moved}"
    )
    assert expected in result.output
    assert f"moved to {edits.short_to}" in result.output
    assert f"{edits.split_area} ({names[edits.split_area]}): in " in result.output
    assert f"after {edits.split_unit} moved to {edits.split_to}" in result.output
    assert "BROKEN" in result.output and "band, contiguity" in result.output
    # --out writes the plan as it is: the files of propose, and a summary that agrees with them
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["all_in_band"] is False and summary["areas_outside_band"] == [edits.short_area]
    assert read_assignment(out).to_dict() == read_assignment(folder).to_dict()
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "2 of 2 FAIL: band, contiguity" in report
    assert f"Edited: {edits.split_unit}" in report


def test_a_valid_edit_exits_0(real_run: tuple[RunConfig, Path], tmp_path: Path) -> None:
    cfg, folder = real_run
    rows = read_assignment(folder).rename_axis("unit_code").reset_index()
    plan = tmp_path / "plan.csv"
    rows.to_csv(plan, index=False)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    done = subprocess.run(
        [sys.executable, "-m", "sda", "evaluate", "--config", _config_file(cfg), str(plan), "-q", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["violations"] == [] and summary["all_in_band"] is True


def test_bad_plan_rows_get_exit_1_naming_the_units(real_run: tuple[RunConfig, Path], tmp_path: Path) -> None:
    cfg, folder = real_run
    rows = read_assignment(folder).rename_axis("unit_code").reset_index()
    first, second = rows["unit_code"].iloc[0], rows["unit_code"].iloc[1]
    rows.loc[0, "unit_code"] = first[:-1] + "X"  # a typo
    rows.loc[2, "area_id"] = ""
    rows = pd.concat([rows, pd.DataFrame({"unit_code": [second], "area_id": ["SDA-99"]})])
    plan = tmp_path / "plan.csv"
    rows.to_csv(plan, index=False)
    result = CliRunner().invoke(cli, ["evaluate", "--config", _config_file(cfg), str(plan), "-q"])
    assert result.exit_code == 1, result.output
    # Rows as Excel numbers them: the header is row 1.
    assert f"row 2, field 'unit_code': unit '{first[:-1]}X' is not in the units file (did you mean '{first}'?)" in (
        result.output
    )
    assert "row 4, field 'area_id'" in result.output and "has no area" in result.output
    assert f"unit '{second}' again (first on row 3), in two areas" in result.output
    assert f"have no row: {first}" in result.output
    assert "Traceback" not in result.output


def test_an_areas_layer_saved_on_its_own_is_named_with_the_fix(
    real_run: tuple[RunConfig, Path], tmp_path: Path
) -> None:
    # The areas layer of plan.gpkg saved as a GeoPackage of its own has no unit codes: the fix is the
    # units layer, not --code-field.
    cfg, folder = real_run
    plan = tmp_path / "areas.gpkg"
    gpd.read_file(folder / "plan.gpkg", layer="areas").to_file(plan, layer="areas")
    result = CliRunner().invoke(cli, ["evaluate", "--config", _config_file(cfg), str(plan), "-q"])
    assert result.exit_code == 1, result.output
    assert result.output == (
        f"Error: {plan}: layer 'areas' has one row per area (no unit codes); sda reads a plan, one row per "
        "unit (unit_code, area_id), from the layer 'units', which this file does not have. Fix: give the "
        "plan.gpkg sda propose wrote or its output folder; to move a unit to another area, change its "
        "area_id there.\n"
    )


def test_every_rule_is_listed_by_unit_on_a_ruled_grid() -> None:
    problem, labels = ruled_grid()  # one area per row; R0C0+R0C1 together, R1C2/R2C2 apart, R3C3 locked to North
    names = ["R0", "R1", "R2", "North"]
    labels = labels.copy()
    labels[problem.codes.index(cell(0, 1))] = 1  # splits the keep-together pair
    labels[problem.codes.index(cell(2, 2))] = 1  # puts the keep-apart pair together
    labels[problem.codes.index(cell(3, 3))] = 2  # takes the locked unit out of North
    rules = RulesConfig(
        keep_together=((cell(0, 0), cell(0, 1)),),
        keep_apart=((cell(1, 2), cell(2, 2)),),
        locks=(LockConfig("North", (cell(3, 3),)),),
    )
    cfg = RunConfig(units=UnitsConfig(path=Path("units.gpkg"), code_field="code"), rules=rules)
    edits = pd.DataFrame({"from_area": ["R0"], "to_area": ["R1"]}, index=pd.Index([cell(0, 1)], name="unit_code"))
    lines = list_violations(problem, labels, names, cfg, edits)
    assert "R0: 30 residents" not in " ".join(lines)  # R0 keeps 30: in band, not listed
    assert "lock 'North': 1 of its 1 units are elsewhere: R3C3 in R2" in lines
    assert "keep_together #1: split between 2 areas (R0: R0C0; R1: R0C1)" in lines
    assert "keep_apart R1C2/R2C2: both in R1" in lines
    assert "R1: 60 residents, 10 above the maximum of 50, after R0C1 moved in from R0" in lines


def test_a_plan_moved_out_of_its_folder_is_compared_with_original(
    real_run: tuple[RunConfig, Path], edited: tuple[Path, BreakingEdits], tmp_path: Path
) -> None:
    cfg, _ = real_run
    folder, edits = edited
    exported = tmp_path / "plan.csv"  # e.g. the layer exported from QGIS to a spreadsheet
    read_assignment(folder).rename_axis("unit_code").reset_index().to_csv(exported, index=False)
    alone = evaluate_plan(cfg, exported)
    assert alone.run_dir is None and alone.edits.empty and not alone.ok
    compared = evaluate_plan(cfg, exported, original=folder)
    assert sorted(compared.edits.index) == sorted(edits.moves)
    assert any(f"after {edits.split_unit} moved to {edits.split_to}" in v for v in compared.violations)


def test_an_original_that_is_no_run_is_refused_not_ignored(
    real_run: tuple[RunConfig, Path], edited: tuple[Path, BreakingEdits], tmp_path: Path
) -> None:
    # --original given as a copy of the run's assignment.csv, or a plan file on its own, was
    # ignored: evaluate listed no edits, and repair held none and moved the officer's edits back.
    cfg, run = real_run
    folder, edits = edited
    exported = tmp_path / "exported"
    exported.mkdir()
    read_assignment(folder).rename_axis("unit_code").reset_index().to_csv(exported / "plan.csv", index=False)
    saved_alone = tmp_path / "saved"
    saved_alone.mkdir()
    shutil.copy(run / "assignment.csv", saved_alone / "assignment.csv")
    gpkg_alone = tmp_path / "gpkg" / "plan.gpkg"
    gpkg_alone.parent.mkdir()
    shutil.copy(run / "plan.gpkg", gpkg_alone)
    for original in (saved_alone / "assignment.csv", gpkg_alone, saved_alone):
        for command in ("evaluate", "repair"):
            args = [command, "--config", _config_file(cfg), str(exported / "plan.csv"), "--original", str(original)]
            result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "out"), "-q"])
            assert result.exit_code == 1, result.output
            assert f"{original}: --original is not an sda output folder" in result.output, result.output
            assert "expected the folder sda propose wrote" in result.output, result.output
            missing = "plan.json)" if original.parent == saved_alone or original == saved_alone else "plan.json and"
            assert f"has no {missing}" in result.output, result.output
            assert "Fix: give the output folder the plan was edited from" in result.output, result.output
            assert "Traceback" not in result.output and not (tmp_path / "out").exists()
    # A file inside a run folder stands for the folder, as before.
    assert sorted(evaluate_plan(cfg, exported / "plan.csv", original=run / "assignment.csv").edits.index) == sorted(
        edits.moves
    )


def test_a_folder_written_by_evaluate_out_still_knows_the_edits(
    real_run: tuple[RunConfig, Path], edited: tuple[Path, BreakingEdits], tmp_path: Path
) -> None:
    cfg, _ = real_run
    folder, edits = edited
    evaluated = tmp_path / "evaluated"
    args = ["evaluate", "--config", _config_file(cfg), str(folder), "--out", str(evaluated), "-q"]
    for _ in range(2):  # the second replaces the first: its own earlier output, as propose replaces its own
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 5, result.output
    assert read_assignment(evaluated / "assignment.csv").to_dict() == read_assignment(folder).to_dict()
    again = evaluate_plan(cfg, evaluated)
    assert again.edits["to_area"].to_dict() == edits.moves
    # The edits are counted from the original run, and the text says so (not "since the run in" it).
    assert f"moved since the original run, as recorded in {evaluated / 'plan.json'}" in evaluation_text(again)
    assert "moved since the run in" in evaluation_text(evaluate_plan(cfg, folder))


def test_evaluate_out_never_replaces_the_plan_it_reads_or_another_runs_plan(
    real_run: tuple[RunConfig, Path], edited: tuple[Path, BreakingEdits], tmp_path: Path
) -> None:
    # evaluate --out replaced any folder it was given: the edited plan's own (the officer's
    # plan.gpkg rewritten, the run's assignment.csv gone) or another run's plan.
    cfg, run = real_run
    folder, _ = edited
    proposed = copy_run(run, tmp_path / "proposed")
    exported = tmp_path / "exported"
    exported.mkdir()
    read_assignment(folder).rename_axis("unit_code").reset_index().to_csv(exported / "plan.csv", index=False)
    before = {path: folder_bytes(path) for path in (folder, proposed, exported)}
    for plan, out, said in [
        (folder, folder, f"--out {folder} is the input {folder}; writing there would replace it."),
        (exported / "plan.csv", exported, f"--out {exported} holds the input {exported / 'plan.csv'}"),
        (folder, proposed, f"--out {proposed} holds a plan written by sda propose (areas.csv, "),
    ]:
        args = ["evaluate", "--config", _config_file(cfg), str(plan), "--out", str(out), "-q"]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1 and said in result.output, result.output
        assert "e.g. --out out/evaluated" in result.output and "Traceback" not in result.output
    assert {path: folder_bytes(path) for path in (folder, proposed, exported)} == before


def _copy_and_numbers(folder: Path, tmp_path: Path) -> tuple[Path, pd.Series, dict[str, str]]:
    """A copy of the run, its plan, and each area id's number alone (SDA-01 -> 1), the ids an
    officer who renumbers the areas gives them."""
    run_plan = read_assignment(folder)
    return copy_run(folder, tmp_path / "run"), run_plan, {a: str(int(a.rsplit("-", 1)[1])) for a in set(run_plan)}


def test_renumbered_areas_are_the_same_areas_and_only_the_unit_moved_is_an_edit(
    real_run: tuple[RunConfig, Path], tmp_path: Path
) -> None:
    # An officer renumbered the areas (SDA-01 -> 1, ...) and moved one unit: by id, all 487 units
    # had "moved" and each number was called a new area.
    cfg, folder = real_run
    copy, run_plan, number = _copy_and_numbers(folder, tmp_path)
    edited = run_plan.map(number)
    unit = str(edited.index[0])
    home = edited[unit]
    other = next(a for a in sorted(set(edited)) if a != home)
    edited[unit] = other
    edited.rename_axis("unit_code").reset_index().to_csv(copy / "assignment.csv", index=False)
    with pytest.warns(SdaWarning) as said:
        ev = evaluate_plan(cfg, copy / "assignment.csv")
    notes = [str(w.message) for w in said]
    assert ev.edits[["from_area", "to_area"]].to_dict("index") == {unit: {"from_area": home, "to_area": other}}
    assert any(n.startswith(f"Renumbered since the run ({len(number)} area(s)") for n in notes), notes
    assert not [n for n in notes if "is not an area of the run" in n], notes
    run_names = {str(a["area_id"]): a["name"] for a in json.loads((folder / "plan.json").read_text())["areas"]}
    assert ev.plan.areas.loc[number[run_plan[unit]], "name"] == run_names[run_plan[unit]]
    # What evaluate prints says so too: its note on stderr is hidden by -q.
    assert f"The areas were also renumbered (all {len(number)} areas); not counted as moves." in evaluation_text(ev)


def test_a_plan_only_renumbered_says_no_unit_changed_area_not_no_edits(
    real_run: tuple[RunConfig, Path], tmp_path: Path
) -> None:
    # Renumbered throughout, nothing moved: evaluate noted the renumbering, then printed "No edits
    # since the run", as if the file were the run's plan.
    import warnings

    cfg, folder = real_run
    copy, run_plan, number = _copy_and_numbers(folder, tmp_path)
    plan = copy / "assignment.csv"

    def printed(renumber: dict[str, str]) -> str:
        run_plan.map(lambda a: renumber.get(a, a)).rename_axis("unit_code").reset_index().to_csv(plan, index=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SdaWarning)  # the note on the renumbering, on stderr
            result = CliRunner().invoke(cli, ["evaluate", "--config", _config_file(cfg), str(plan), "-q"])
        assert result.exit_code == 0, result.output
        return result.stdout

    said = printed(number)
    k = len(number)
    assert f"No unit changed area since the run in {copy}; the areas were only renumbered (all {k} areas)." in said
    assert "No edits" not in said
    first = min(number)
    assert f"the areas were only renumbered (1 of the {k} areas)." in printed({first: number[first]})
    assert f"No edits since the run in {copy}." in printed({})


def test_an_edit_to_assignment_csv_is_seen_when_plan_json_keeps_the_assignment(
    real_run: tuple[RunConfig, Path], tmp_path: Path
) -> None:
    cfg, folder = real_run
    copy = copy_run(folder, tmp_path / "run")
    run_plan = read_assignment(folder)
    record = json.loads((copy / "plan.json").read_text(encoding="utf-8"))
    record["assignment"] = run_plan.to_dict()  # as a writer that records the run's assignment does
    (copy / "plan.json").write_text(json.dumps(record), encoding="utf-8")
    edited = run_plan.copy()
    unit = str(edited.index[0])
    other = next(a for a in sorted(set(edited)) if a != edited[unit])
    edited[unit] = other  # changed in a spreadsheet
    edited.rename_axis("unit_code").reset_index().to_csv(copy / "assignment.csv", index=False)
    ev = evaluate_plan(cfg, copy / "assignment.csv")
    assert ev.edits["to_area"].to_dict() == {unit: other}


def test_a_population_typed_into_the_plan_file_is_said_to_be_ignored(
    real_run: tuple[RunConfig, Path], tmp_path: Path
) -> None:
    # An officer raised a unit's population in QGIS to try a new estate: evaluate scored the plan
    # on the config's data, said VALID and said nothing of the edit.
    cfg, folder = real_run
    copy = copy_run(folder, tmp_path / "run")
    code, fid = next(iter(fids_of(copy / "plan.gpkg").items()))
    assert update_in_place(copy / "plan.gpkg", "UPDATE units SET population = population + 20000 WHERE fid = ?", (fid,))
    untouched = evaluate_plan(cfg, folder)
    assert not [w for w in untouched.plan.warnings if "population column" in w]
    with pytest.warns(SdaWarning, match=r"population column differs from the config's data for 1 unit"):
        ev = evaluate_plan(cfg, copy)
    note = next(w for w in ev.plan.warnings if "population column" in w)
    assert code in note and "scored on the config's populations" in note and "Fix:" in note, note
    assert ev.plan.areas["population"].sum() == untouched.plan.areas["population"].sum()


def test_an_areas_layer_edited_in_a_plan_moved_out_of_its_folder_is_warned_about(
    real_run: tuple[RunConfig, Path], tmp_path: Path
) -> None:
    # An officer merged two areas in the areas layer of a plan.gpkg copied out of its run folder and
    # gave the run with --original: with no plan.json beside the file, the edit went unsaid (VALID).
    cfg, folder = real_run
    moved = tmp_path / "copy" / "plan.gpkg"
    moved.parent.mkdir()
    shutil.copy(folder / "plan.gpkg", moved)
    first, second = sorted(read_assignment(folder).unique())[:2]
    merge_areas_layer_in_place(moved, into=first, merged=second)
    said = rf"layer 'areas' was edited after the run \({first} more than once; {second} missing\)"
    with pytest.warns(SdaWarning, match=said):
        ev = evaluate_plan(cfg, moved, original=folder)
    assert ev.run_dir == folder and any("layer 'areas' was edited" in w for w in ev.plan.warnings)
    beside = copy_run(folder, tmp_path / "run")  # in its folder: said on reading, and in the report too
    shutil.copy(moved, beside / "plan.gpkg")
    with pytest.warns(SdaWarning, match=said):
        ev = evaluate_plan(cfg, beside)
    assert sum("layer 'areas' was edited" in w for w in ev.plan.warnings) == 1


def _units_layer(folder: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(folder / "plan.gpkg", layer="units")


def test_a_unit_moved_in_the_plan_file_is_said_to_be_ignored(real_run: tuple[RunConfig, Path], tmp_path: Path) -> None:
    # An officer dragged a unit 5 km in QGIS and saved the layer: evaluate checked the plan on the
    # units file's polygons, said VALID and said nothing of the edit.
    cfg, folder = real_run
    units = _units_layer(folder)
    code = str(units.loc[0, "unit_code"])
    units.loc[0, "geometry"] = units.geometry.iloc[[0]].translate(5000, 0).iloc[0]
    units.to_file(tmp_path / "moved.gpkg", layer="units")
    with pytest.warns(SdaWarning, match=r"moved.gpkg: the unit geometry differs from the config's units for 1 unit"):
        ev = evaluate_plan(cfg, tmp_path / "moved.gpkg", original=folder)
    note = next(w for w in ev.plan.warnings if "geometry differs" in w)
    assert code in note and "Fix:" in note and "wrong CRS" not in note, note
    assert ev.ok


def test_bng_coordinates_labelled_wgs84_are_said_to_be_ignored_with_the_crs_fix(
    real_run: tuple[RunConfig, Path], tmp_path: Path
) -> None:
    # A plan whose BNG metres were saved labelled as WGS84 degrees: every unit lay nowhere, and
    # evaluate said VALID without a word.
    cfg, folder = real_run
    _units_layer(folder).set_crs("EPSG:4326", allow_override=True).to_file(tmp_path / "wgs.gpkg", layer="units")
    with pytest.warns(SdaWarning, match=r"geometry differs from the config's units for 487 unit"):
        ev = evaluate_plan(cfg, tmp_path / "wgs.gpkg", original=folder)
    note = next(w for w in ev.plan.warnings if "geometry differs" in w)
    assert "wrong CRS" in note and "EPSG:27700" in note, note


def test_the_plans_own_geometry_after_a_wgs84_round_trip_is_not_a_difference(
    real_run: tuple[RunConfig, Path], tmp_path: Path
) -> None:
    cfg, folder = real_run
    units = _units_layer(folder)
    # units.geojson (WGS84, six decimals) and a layer snapped to a 1 m grid, as QGIS's tools may leave it
    snapped = units.set_geometry(units.geometry.set_precision(1.0))
    snapped.to_file(tmp_path / "snapped.gpkg", layer="units")
    for plan in (folder / "units.geojson", tmp_path / "snapped.gpkg"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", SdaWarning)
            ev = evaluate_plan(cfg, plan, original=folder)
        assert not [w for w in ev.plan.warnings if "geometry" in w], plan
