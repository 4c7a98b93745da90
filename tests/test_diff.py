"""Change logs between plans: a plan against itself, against itself with units moved by hand,
and against a plan whose areas are numbered differently."""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from editing import edit_units_in_place, fids_of
from helpers import folder_bytes
from helpers import quadrant_plan as build_plan

from sda.cli import cli
from sda.diff import diff_plans, render_diff_text
from sda.outputs import write_outputs
from sda.planfile import read_planfile
from sda.reasons import NO_DATA_REASON

#: Three units moved by hand: R0C1 (A1 -> A2), R1C1 (A1 -> A2), R3C3 (A4 -> A3).
HAND_MOVES = {"R0C1": "A2", "R1C1": "A2", "R3C3": "A3"}


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plan")
    write_outputs(build_plan(extras=False), out)
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))


def _assignment(plan_dir: Path) -> dict[str, str]:
    """The plan's ``unit_code -> area_id``, in the order of its assignment.csv."""
    return {row["unit_code"]: row["area_id"] for row in _rows(plan_dir / "assignment.csv")}


def _plan_csv(
    path: Path,
    areas: Mapping[str, str],
    *,
    names: Mapping[str, str] | None = None,
    header: tuple[str, str] = ("unit_code", "area_id"),
) -> Path:
    """A plan as an officer's CSV: one row per unit and its area; with ``names``, an
    ``area_name`` column naming each row's area (its id where ``names`` has none)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*header, "area_name"] if names is not None else header)
        for code, area in areas.items():
            writer.writerow([code, area, names.get(area, area)] if names is not None else [code, area])
    return path


def _edited_csv(plan_dir: Path, folder: Path, moves: Mapping[str, str]) -> Path:
    return _plan_csv(folder / "edited.csv", {**_assignment(plan_dir), **moves})


def _edited_copy(plan_dir: Path, folder: Path, moves: Mapping[str, str]) -> Path:
    """A copy of the plan folder whose plan.gpkg has ``moves`` (code -> area) made as in QGIS; its path."""
    shutil.copytree(plan_dir, folder)
    gpkg = folder / "plan.gpkg"
    fids = fids_of(gpkg)
    edit_units_in_place(gpkg, {fids[code]: area for code, area in moves.items()})
    return gpkg


def test_a_plan_against_itself_has_no_change(plan_dir: Path) -> None:
    diff = diff_plans(read_planfile(plan_dir), read_planfile(plan_dir / "units.geojson"))
    assert diff.unchanged
    assert diff.units_moved == 0 and diff.residents_moved == 0
    assert diff.created == [] and diff.retired == []
    assert set(diff.areas["status"]) == {"kept"}
    text = render_diff_text(diff)
    assert "No change" in text
    # Scores in the words and precision of 'sda evaluate', not raw keys ("pcns_split: 2.0000").
    assert re.search(r"^  PCNs split: \d+ -> \d+$", text, re.M), text
    assert re.search(r"^  PCN coterminosity: \d+\.\d% -> \d+\.\d%$", text, re.M), text
    assert "pcns_split" not in text and "cut_border_km" not in text


@pytest.fixture(scope="module")
def county_plan(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped 487 LSOAs as a plan file, each LSOA in its district's area."""
    lsoas = gpd.read_file(repo_root / "boundaries" / "lsoa2011_cambs_peterborough.geojson")
    plan = lsoas.rename(columns={"LSOA11CD": "unit_code"}).assign(area_id=lsoas["LAD11CD"])
    path = tmp_path_factory.mktemp("county") / "county.geojson"
    plan[["unit_code", "area_id", "geometry"]].to_file(path, driver="GeoJSON")
    return path


def test_plans_of_different_places_are_refused_with_the_counts(
    plan_dir: Path, county_plan: Path, tmp_path: Path
) -> None:
    # The test grid lies over Cambridge: 41 of the county's LSOAs are under it. Compared, 446 were
    # "gone without a trace" and the grid's units "merged from" and "split from" LSOAs, exit 0.
    out = tmp_path / "changes"
    result = CliRunner().invoke(cli, ["diff", str(county_plan), str(plan_dir), "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and not out.exists()
    assert (
        f"the two plans cover different places: {county_plan} has 487 units and {plan_dir / 'plan.gpkg'} 16, "
        "of which 41 and 16 are in the other plan (by code or by overlapping polygons); expected at least 50% "
        "of each plan's units in the other. Fix: compare a plan with the run it came from" in result.output
    )
    # The other way round, and two plans with no code in common given as CSVs.
    assert "has 16 units and" in CliRunner().invoke(cli, ["diff", str(plan_dir), str(county_plan)]).output
    elsewhere = _plan_csv(tmp_path / "elsewhere.csv", {"X1": "A", "X2": "B"})
    refused = CliRunner().invoke(cli, ["diff", str(plan_dir / "assignment.csv"), str(elsewhere)])
    assert refused.exit_code == 1
    assert "has 16 units and" in refused.output
    assert "2, of which 0 and 0 are in the other plan (by code)" in refused.output
    assert "give each plan's plan.gpkg or units.geojson, not a CSV" in refused.output


def test_a_plan_of_part_of_the_old_plan_is_compared_as_its_re_run_was(county_plan: Path, tmp_path: Path) -> None:
    # A re-run of Peterborough alone from a county plan (its units file the city's 112 LSOAs):
    # sda propose --previous accepts it, so sda diff must too. Before, it refused the pair as
    # "different places" and told the officer to compare the plan with the run it came from.
    county = gpd.read_file(county_plan).set_index("unit_code")
    city = county[county["area_id"] == "E06000031"]
    assert len(city) == 112
    # The city split in two by easting.
    x = city.geometry.to_crs(27700).centroid.x
    east = x > x.median()
    areas = pd.Series(["PB-E" if e else "PB-W" for e in east], index=city.index)
    part = city.assign(area_id=areas).reset_index()
    part_path = tmp_path / "peterborough.geojson"
    part[["unit_code", "area_id", "geometry"]].to_file(part_path, driver="GeoJSON")
    diff = diff_plans(read_planfile(county_plan), read_planfile(part_path))
    assert diff.part_of == 487 and len(diff.carried.removed) == 375
    assert diff.units_total == 112
    # One of the two halves continues the city's area, the other is new; the other districts'
    # areas lie wholly outside and are retired.
    assert sorted(diff.retired) == sorted(set(county["area_id"]) - {"E06000031"})
    assert len(diff.created) == 1
    assert diff.units_moved == int((areas != areas.mode()[0]).sum())
    text = render_diff_text(diff)
    assert "The new plan covers part of the old one: 112 of its 487 units. The other 375 are counted as removed" in text
    # The other way round (a county plan after a plan of one district) is still refused, as its
    # re-run would be, with a hint.
    refused = CliRunner().invoke(cli, ["diff", str(part_path), str(county_plan)])
    assert refused.exit_code == 1, refused.output
    assert "cover different places" in refused.output
    assert f"{part_path} covers part of {county_plan}: give the larger plan first" in refused.output


def test_a_boundary_review_of_a_few_units_is_still_compared(county_plan: Path, tmp_path: Path) -> None:
    # A re-run after a boundary review: two LSOAs merged, one split in two, one recoded. The
    # changed units are carried by overlap, so the plans share every unit.
    lsoas = gpd.read_file(county_plan).set_index("unit_code")
    first, second = lsoas.index[0], lsoas.index[1:][lsoas.geometry.iloc[1:].touches(lsoas.geometry.iloc[0])][0]
    split, recoded = lsoas.index[100], lsoas.index[200]
    x0, y0, x1, y1 = lsoas.geometry[split].bounds
    halves = [shapely.box(x0, y0, (x0 + x1) / 2, y1), shapely.box((x0 + x1) / 2, y0, x1, y1)]
    reviewed = pd.concat(
        [
            lsoas.drop(index=[first, second, split, recoded]),
            gpd.GeoDataFrame(
                {"area_id": [lsoas.area_id[first], lsoas.area_id[split], lsoas.area_id[split], "X"]},
                geometry=[
                    shapely.union(lsoas.geometry[first], lsoas.geometry[second]),
                    *(shapely.intersection(lsoas.geometry[split], half) for half in halves),
                    lsoas.geometry[recoded],
                ],
                index=pd.Index(["MERGED", "SPLIT1", "SPLIT2", "RECODED"], name="unit_code"),
                crs=lsoas.crs,
            ),
        ]
    )
    new = tmp_path / "reviewed.geojson"
    reviewed.reset_index().to_file(new, driver="GeoJSON")
    result = CliRunner().invoke(cli, ["diff", str(county_plan), str(new)])
    assert result.exit_code == 0, result.output
    assert "Units: 487 now (1 merged from; 2 split from; 1 recoded); carried by area." in result.output
    assert f"  RECODED: {lsoas.area_id[recoded]} -> X," in result.output


def test_three_units_moved_by_hand_are_exactly_those_listed(plan_dir: Path, tmp_path: Path) -> None:
    edited = _edited_csv(plan_dir, tmp_path, HAND_MOVES)
    result = CliRunner().invoke(cli, ["diff", str(plan_dir), str(edited), "--out", str(tmp_path / "changes")])
    assert result.exit_code == 0, result.output
    assert "Moved: 3 of 16 units, 3,525 residents" in result.output
    moved = _rows(tmp_path / "changes" / "moved.csv")
    assert {(m["unit_code"], m["from_area"], m["to_area"]) for m in moved} == {
        ("R0C1", "A1", "A2"),
        ("R1C1", "A1", "A2"),
        ("R3C3", "A4", "A3"),
    }
    assert sum(int(m["population"]) for m in moved) == 1025 + 1125 + 1375
    areas = {r["area_id"]: r for r in _rows(tmp_path / "changes" / "areas.csv")}
    assert areas["A1"]["population_before"] == "4250" and areas["A1"]["population_after"] == str(4250 - 1025 - 1125)
    assert areas["A2"]["residents_in"] == str(1025 + 1125)
    assert "A1 -> A2: 2 units, 2,150 residents" in result.output


def test_out_is_replaced_as_a_set_and_never_onto_an_input(plan_dir: Path, tmp_path: Path) -> None:
    edited = _edited_csv(plan_dir, tmp_path, HAND_MOVES)
    out = tmp_path / "changes"
    out.mkdir()
    (out / "notes.txt").write_text("the officer's own file", encoding="utf-8")
    (out / "moved.geojson").write_text("{}", encoding="utf-8")  # left by an earlier diff with geometry
    result = CliRunner().invoke(cli, ["diff", str(plan_dir), str(edited), "--out", str(out)])
    assert result.exit_code == 0, result.output
    # A CSV plan has no geometry: the old moved.geojson must not stay beside the new change log.
    assert sorted(p.name for p in out.iterdir()) == ["areas.csv", "changes.txt", "moved.csv", "notes.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left
    before = sorted(p.name for p in plan_dir.iterdir())
    refused = CliRunner().invoke(cli, ["diff", str(plan_dir), str(edited), "--out", str(plan_dir)])
    assert refused.exit_code != 0 and "Traceback" not in refused.output
    assert sorted(p.name for p in plan_dir.iterdir()) == before


def test_moved_units_geojson_has_from_to_and_residents(plan_dir: Path, tmp_path: Path) -> None:
    # Edit the GeoPackage's units layer as QGIS would, then diff the folder against the file.
    import pyogrio

    units = pyogrio.read_dataframe(plan_dir / "plan.gpkg", layer="units")
    units.loc[units["unit_code"] == "R3C3", "area_id"] = "A3"
    edited = tmp_path / "edited.gpkg"
    pyogrio.write_dataframe(units, edited, layer="units", driver="GPKG")
    result = CliRunner().invoke(cli, ["diff", str(plan_dir), str(edited), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    features = json.loads((tmp_path / "out" / "moved.geojson").read_text(encoding="utf-8"))["features"]
    assert [f["properties"]["unit_code"] for f in features] == ["R3C3"]
    assert features[0]["properties"]["from_area"] == "A4" and features[0]["properties"]["to_area"] == "A3"
    assert features[0]["properties"]["population"] == 1375
    assert -1 < shapely.geometry.shape(features[0]["geometry"]).centroid.x < 1  # WGS84 longitude near Cambridge


def test_areas_are_matched_by_residents_not_by_id(plan_dir: Path, tmp_path: Path) -> None:
    # The same plan with its areas numbered the other way round: nobody moved, four areas renumbered.
    swap = {"A1": "A4", "A2": "A3", "A3": "A2", "A4": "A1"}
    plan = read_planfile(plan_dir)
    renumbered = _edited_csv(plan_dir, tmp_path, {c: swap[a] for c, a in plan.assignment.items()})
    diff = diff_plans(plan, read_planfile(renumbered))
    assert diff.units_moved == 0
    assert set(diff.areas["status"]) == {"renumbered"}
    assert not diff.unchanged


def test_diff_takes_the_column_names_its_fix_gives(plan_dir: Path, tmp_path: Path) -> None:
    # diff said "Fix: name the column with --code-field NAME" but had no such option.
    other = _plan_csv(tmp_path / "lsoa.csv", _assignment(plan_dir), header=("LSOA21CD", "zone"))
    refused = CliRunner().invoke(cli, ["diff", str(plan_dir), str(other)])
    assert refused.exit_code == 1 and "Fix: name the column with --code-field NAME" in refused.output
    taken = CliRunner().invoke(
        cli, ["diff", str(plan_dir), str(other), "--code-field", "LSOA21CD", "--area-field", "zone"]
    )
    assert taken.exit_code == 0, taken.output
    assert "No change" in taken.output or "0 units moved" in taken.output, taken.output


def test_a_bad_plan_file_exits_1_with_the_row(plan_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("unit_code,area_id\nR0C0,\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["diff", str(plan_dir), str(bad)])
    assert result.exit_code == 1
    assert "row 2, field 'area_id': unit 'R0C0' has no area" in result.output  # row 1: the header


def test_area_names_are_shown_when_the_plans_have_them(plan_dir: Path, tmp_path: Path) -> None:
    names = {"A1": "Ely & Soham", "A2": "March", "A3": "Wisbech", "A4": "Chatteris"}
    # The names follow the areas, not the units: a moved unit's row carries its new area's name.
    named = _plan_csv(tmp_path / "named.csv", {**_assignment(plan_dir), **HAND_MOVES}, names=names)
    diff = diff_plans(read_planfile(plan_dir), read_planfile(named))
    assert dict(zip(diff.areas["area_id"], diff.areas["area_name"], strict=True)) == names
    assert "A4 Chatteris [kept]: 5,250 -> 3,875;" in render_diff_text(diff)


def test_a_removed_unit_is_named_with_its_area_and_residents(plan_dir: Path, tmp_path: Path) -> None:
    assignment = _assignment(plan_dir)
    gone, area = next(iter(assignment.items()))
    kept = _plan_csv(tmp_path / "kept.csv", {c: a for c, a in assignment.items() if c != gone})
    old = read_planfile(plan_dir)
    text = render_diff_text(diff_plans(old, read_planfile(kept)))
    assert f"Units: {len(assignment) - 1} now (1 removed); carried by" in text
    residents = int(old.population[gone])
    assert f"{gone} ({area}, {residents:,} residents)" in text


def test_an_id_in_both_plans_is_neither_created_nor_retired_when_its_units_are_removed(
    plan_dir: Path, tmp_path: Path
) -> None:
    # A5 is R0C0 alone (a town that is one unit); R0C0 is then removed from the units and A5 now
    # names the area R0C1 joined. A5 shares no residents across the plans, which was reported as
    # "created: A5; retired: A5".
    old = _edited_copy(plan_dir, tmp_path / "old", {"R0C0": "A5"})
    areas = {c: "A5" if c == "R0C1" else a for c, a in _assignment(plan_dir).items() if c != "R0C0"}
    new = _plan_csv(tmp_path / "new.csv", areas)
    diff = diff_plans(read_planfile(old), read_planfile(new))
    assert diff.created == [] and diff.retired == []
    assert dict(zip(diff.areas["area_id"], diff.areas["status"], strict=True)) == dict.fromkeys(
        ["A1", "A2", "A3", "A4", "A5"], "kept"
    )
    assert diff.moved[["unit_code", "from_area", "to_area"]].values.tolist() == [["R0C1", "A1", "A5"]]
    text = render_diff_text(diff)
    assert "Areas: 5 -> 5; created: none; retired: none." in text
    assert "R0C0 (A5, 1,000 residents)" in text  # the removed unit is still named


def test_a_hand_edit_is_not_called_the_searchs_choice_and_old_scores_are_not_shown(
    plan_dir: Path, tmp_path: Path
) -> None:
    edited = _edited_copy(plan_dir, tmp_path / "edited", {"R0C1": "A2"})
    diff = diff_plans(read_planfile(plan_dir), read_planfile(edited))
    assert diff.moved["reason"].tolist() == [NO_DATA_REASON]
    assert diff.scores == {} and diff.edited == [edited]
    text = render_diff_text(diff)
    assert "Scores are not shown for" in text and "Plan scores" not in text


def test_a_renamed_area_is_a_change(plan_dir: Path, tmp_path: Path) -> None:
    renamed = _plan_csv(tmp_path / "renamed.csv", _assignment(plan_dir), names={"A1": "Ely"})
    diff = diff_plans(read_planfile(plan_dir / "assignment.csv"), read_planfile(renamed))
    assert diff.renamed == [("A1", "A1", "Ely")] and not diff.unchanged
    assert "Renamed: A1 'A1' -> 'Ely'." in render_diff_text(diff)


def test_a_change_log_is_never_written_into_a_plans_folder(plan_dir: Path, tmp_path: Path) -> None:
    third = tmp_path / "third"
    shutil.copytree(plan_dir, third)
    before = folder_bytes(third)
    result = CliRunner().invoke(cli, ["diff", str(plan_dir), str(plan_dir), "--out", str(third)])
    assert result.exit_code == 1, result.output
    assert "it holds an sda plan" in result.output and f"--out {third / 'changes'}" in result.output
    assert folder_bytes(third) == before


def test_two_plan_csvs_keep_their_runs_area_populations(plan_dir: Path) -> None:
    # Neither CSV has per-unit residents, but each run's plan.json has its areas': both are
    # shown, and no area is said to have changed with the data (to 0 residents).
    plan = read_planfile(plan_dir / "assignment.csv")
    diff = diff_plans(plan, plan)
    recorded = {a["area_id"]: a["population"] for a in json.loads((plan_dir / "plan.json").read_text())["areas"]}
    areas = diff.areas.set_index("area_id")
    assert areas["population_before"].to_dict() == recorded
    assert areas["population_after"].to_dict() == recorded
    text = render_diff_text(diff)
    assert "changed with the data alone" not in text and "Areas that changed" not in text, text
    assert diff.unchanged


def test_a_new_plan_csv_on_other_data_is_not_counted_on_the_old_populations(plan_dir: Path, tmp_path: Path) -> None:
    # The new plan is an assignment.csv whose run had other populations (its plan.json says so):
    # its areas are shown as its run counted them, and no move is put down to the old data.
    new = tmp_path / "new"
    shutil.copytree(plan_dir, new)
    moves = {"R0C1": "A2"}
    assignment = {**_assignment(plan_dir), **moves}
    _plan_csv(new / "assignment.csv", assignment)
    record = json.loads((new / "plan.json").read_text(encoding="utf-8"))
    record["assignment"] = assignment
    grown = {a["area_id"]: round(a["population"] * 1.5) for a in record["areas"]}
    for area in record["areas"]:
        area["population"] = grown[area["area_id"]]
    (new / "plan.json").write_text(json.dumps(record), encoding="utf-8")
    diff = diff_plans(read_planfile(plan_dir), read_planfile(new / "assignment.csv"))
    areas = diff.areas.set_index("area_id")
    assert areas["population_after"].to_dict() == grown
    assert areas["population_carried"].isna().all()
    assert diff.moved["unit_code"].tolist() == ["R0C1"]
    reason = diff.moved["reason"].iloc[0]
    assert reason != NO_DATA_REASON and "no populations" in reason, reason
    text = render_diff_text(diff)
    assert "changed with the data alone" not in text
    assert "counted on the old plan's populations" in text, text


def test_a_renumbered_area_that_was_renamed_is_named_under_both_ids(plan_dir: Path, tmp_path: Path) -> None:
    # March (A1) is now numbered A2 and named Ely (and A2 is A1): the old name goes with the old
    # id, so that A2 is not said to have been called March.
    swap = {"A1": "A2", "A2": "A1"}
    areas = {c: swap.get(a, a) for c, a in _assignment(plan_dir).items()}
    named = _plan_csv(tmp_path / "named.csv", areas, names={"A2": "Ely"})
    old = _plan_csv(tmp_path / "old.csv", _assignment(plan_dir), names={"A1": "March"})
    text = render_diff_text(diff_plans(read_planfile(old), read_planfile(named)))
    assert "A1 'March' -> A2 'Ely'" in text and "A2 'March'" not in text, text


def test_residents_no_plan_gives_are_blank_not_zero(plan_dir: Path, tmp_path: Path) -> None:
    # Two officer's CSVs, no residents and no plan.json: an area is not said to hold 0 residents.
    old = _plan_csv(tmp_path / "old.csv", _assignment(plan_dir))
    new = _plan_csv(tmp_path / "new.csv", {**_assignment(plan_dir), **HAND_MOVES})
    diff = diff_plans(read_planfile(old), read_planfile(new))
    columns = ["population_before", "population_carried", "population_after"]
    assert diff.areas[columns].isna().all().all(), diff.areas[columns]
    text = render_diff_text(diff)
    assert ": 0 ->" not in text and "Moved: 3 of 16 units (no populations in either plan)." in text, text


def test_a_move_between_areas_that_swapped_ids_does_not_read_as_no_move(plan_dir: Path, tmp_path: Path) -> None:
    # A1 and A2 swap ids, and R0C1 moves from the old A1 to the old A2, which is now numbered A1:
    # by id alone that is "A1 -> A1", a unit moving to the area it was already in.
    swap = {"A1": "A2", "A2": "A1"}
    moved = {**_assignment(plan_dir), "R0C1": "A2"}
    new = _plan_csv(tmp_path / "new.csv", {c: swap.get(a, a) for c, a in moved.items()})
    diff = diff_plans(read_planfile(plan_dir), read_planfile(new))
    assert diff.moved["unit_code"].tolist() == ["R0C1"]
    text = render_diff_text(diff)
    assert "A1 (now A2) -> A1 (was A2): 1 unit" in text, text
    assert "R0C1: A1 (now A2) -> A1 (was A2)" in text, text
    assert "A1 -> A1" not in text, text


def test_an_out_named_like_a_file_is_refused_with_the_folder_to_give(plan_dir: Path, tmp_path: Path) -> None:
    # `--out changes.txt` made a folder named changes.txt holding changes.txt, moved.csv and more.
    edited = _edited_csv(plan_dir, tmp_path, HAND_MOVES)
    result = CliRunner().invoke(cli, ["diff", str(plan_dir), str(edited), "--out", str(tmp_path / "changes.txt")])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "--out is a folder" in result.output and f"--out {tmp_path / 'changes'}" in result.output, result.output
    assert not (tmp_path / "changes.txt").exists()
