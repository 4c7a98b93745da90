"""Re-runs on the shipped data: unchanged inputs give the previous plan back, byte for byte; a
simulated boundary review keeps every surviving area's id and moves far fewer residents than a
fresh run. Modest step budgets keep this quick."""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import re
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
from click.testing import CliRunner
from conftest import GridFactory
from helpers import folder_bytes
from reviews import boundary_review, read_shipped, write_units

from sda.api import load_inputs, run
from sda.cli import cli
from sda.config import RulesConfig, RunConfig, config_from_dict, load_config
from sda.errors import InputError, SdaWarning
from sda.outputs import write_outputs
from sda.planfile import read_planfile
from sda.rerun import _change_count, _count_for

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "configs" / "cambridgeshire-peterborough.toml"
OA_POINTS = ROOT / "boundaries" / "oa21_cambs_peterborough_pop2021_pwc.csv"

pytestmark = pytest.mark.slow


def _quick(cfg: RunConfig, rules: RulesConfig | None = None) -> RunConfig:
    return dataclasses.replace(
        cfg,
        search=dataclasses.replace(cfg.search, steps=1_500_000, starts=1, seed=3),
        exact=dataclasses.replace(cfg.exact, enabled=False),
        tradeoffs=dataclasses.replace(cfg.tradeoffs, enabled=False),
        rules=rules or cfg.rules,
    )


def _moved(old: Path, new: Path, out: Path) -> tuple[int, str]:
    """Residents moved from ``old`` to ``new``, measured by ``sda diff``, and its text."""
    result = CliRunner().invoke(cli, ["diff", str(old), str(new), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "moved.csv").read_text(encoding="utf-8").splitlines()))
    return sum(int(r["population"]) for r in rows), result.output


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("base")
    write_outputs(run(_quick(load_config(DEFAULT))), out)
    return out


def _rules(previous: Path) -> RulesConfig:
    """Keep-together and keep-apart rules that the previous plan meets, on units the review leaves alone."""
    plan = read_planfile(previous)
    area = plan.assignment
    codes = sorted(area.index, reverse=True)[:60]  # the review touches the first codes and the largest unit
    together = next((a, b) for a, b in itertools.pairwise(codes) if area[a] == area[b])
    apart = next((a, b) for a, b in itertools.pairwise(codes) if area[a] != area[b])
    return RulesConfig(keep_together=(together,), keep_apart=(apart,))


def test_unchanged_inputs_give_the_previous_plan_back(base: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    args = ["propose", "--config", str(DEFAULT), "--out", str(again), "--previous", str(base), "--quiet"]
    args += ["--steps", "1500000", "--starts", "1", "--seed", "3", "--no-exact", "--no-tradeoffs"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert (again / "assignment.csv").read_bytes() == (base / "assignment.csv").read_bytes()
    moved, text = _moved(base, again, tmp_path / "diff")
    assert moved == 0 and "No change" in text
    record = json.loads((again / "plan.json").read_text(encoding="utf-8"))["provenance"]
    assert record["previous"]["residents_moved"] == 0
    assert record["previous"]["created_ids"] == [] and record["previous"]["retired_ids"] == []
    assert "kept the previous plan's" in record["previous"]["count_note"]
    # The report of a re-run says what changed, also when re-rendered from the folder.
    assert "## Changes since the previous plan" in (again / "report.md").read_text(encoding="utf-8")
    assert CliRunner().invoke(cli, ["report", str(again)]).exit_code == 0
    assert "0 units and 0 residents" in (again / "report.md").read_text(encoding="utf-8")


def test_what_a_rerun_could_not_carry_is_a_warning(base: Path, tmp_path: Path) -> None:
    # An assignment.csv has codes only: units it lacks cannot be carried by overlap, and a code
    # that is no unit any more is gone. Both are said as the run goes, not only in the report.
    rows = (base / "assignment.csv").read_text(encoding="utf-8").splitlines()
    previous = tmp_path / "assignment.csv"
    previous.write_text("\n".join([*rows[:-3], "E09999999,SDA-01,Nowhere"]) + "\n", encoding="utf-8")
    with pytest.warns(SdaWarning) as caught:
        plan = run(_quick(load_config(DEFAULT)), previous=previous)
    said = [str(w.message) for w in caught]
    assert any("has unit codes only" in m and "3 unit(s)" in m for m in said), said
    assert any("gone without a trace" in m and "E09999999" in m for m in said), said
    assert plan.provenance["previous"]["removed"] == ["E09999999"]


@pytest.mark.parametrize("where", ["the previous folder", "its parent", "beside it"])
def test_a_rerun_never_writes_over_its_previous_plan(base: Path, tmp_path: Path, where: str) -> None:
    # The previous plan is an input: a re-run written over it would leave nothing to diff against.
    previous = tmp_path / "plans" / "2025"
    shutil.copytree(base, previous)
    out = {"the previous folder": previous, "its parent": previous.parent, "beside it": previous.parent / "2026"}[where]
    before = folder_bytes(previous)
    args = ["propose", "--config", str(DEFAULT), "--out", str(out), "--previous", str(previous), "--quiet"]
    args += ["--steps", "1000", "--starts", "1", "--no-exact", "--no-tradeoffs"]
    result = CliRunner().invoke(cli, args)
    if where == "beside it":
        assert result.exit_code == 0, result.output
        assert (out / "assignment.csv").is_file()
    else:
        assert result.exit_code == 1 and "would replace it" in result.output, result.output
        assert str(previous.name) in result.output
        # The fix names a folder beside the previous plan, the README's out/2025 -> out/2026.
        assert f"--out {previous.parent / '2026'}." in " ".join(result.output.split()), result.output
    assert folder_bytes(previous) == before


def test_a_boundary_review_keeps_ids_and_moves_few(base: Path, tmp_path: Path) -> None:
    previous = read_planfile(base)
    reviewed, review = boundary_review(read_shipped(load_config(DEFAULT)), previous.assignment, OA_POINTS)
    cfg = write_units(reviewed, _quick(load_config(DEFAULT), _rules(base)), tmp_path / "data")
    rerun = run(cfg, previous=base)
    fresh = run(cfg)
    write_outputs(rerun, tmp_path / "rerun")
    write_outputs(fresh, tmp_path / "fresh")

    # Every rule holds in both (band, contiguity, keep together, keep apart).
    assert len(rerun.rules) == 4 and all(r.ok for r in rerun.rules), rerun.rules
    assert all(r.ok for r in fresh.rules)
    # Units carried as the review changed them.
    carried = {u["unit_code"]: u for u in rerun.provenance["previous"]["changed_units"]}
    assert carried[review.merged_into]["kind"] == "merged from"
    assert carried[review.split_into[0]]["kind"] == carried[review.split_into[1]]["kind"] == "split from"
    assert carried[review.recoded_to]["kind"] == "recoded"
    # Every previous area that still exists keeps its id (and nothing was retired here).
    previous_ids = set(previous.assignment)
    retired = set(rerun.provenance["previous"]["retired_ids"])
    assert previous_ids - retired <= set(rerun.areas.index)
    moved_rerun, text = _moved(base, tmp_path / "rerun", tmp_path / "d1")
    moved_fresh, _ = _moved(base, tmp_path / "fresh", tmp_path / "d2")
    assert "Matched by residents in common under another id" not in text  # ids agree with the matching
    assert moved_fresh > 0
    assert moved_rerun < moved_fresh / 5, (moved_rerun, moved_fresh)


def test_three_units_moved_by_hand_in_a_real_plan(base: Path, tmp_path: Path) -> None:
    plan = read_planfile(base)
    inputs = load_inputs(_quick(load_config(DEFAULT)))
    area = plan.assignment
    moves = {}
    for u, v in sorted(inputs.graph.edges()):
        if area[u] != area[v] and u not in moves and len(moves) < 3:
            moves[u] = area[v]
    lines = ["unit_code,area_id", *(f"{c},{moves.get(c, a)}" for c, a in sorted(area.items()))]
    (tmp_path / "edited.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, text = _moved(base, tmp_path / "edited.csv", tmp_path / "d")
    rows = list(csv.DictReader((tmp_path / "d" / "moved.csv").read_text(encoding="utf-8").splitlines()))
    assert {r["unit_code"]: r["to_area"] for r in rows} == moves
    assert "Moved: 3 of 487 units" in text


def test_count_auto_is_kept_unless_the_band_forces_it() -> None:
    problem = load_inputs(_quick(load_config(DEFAULT))).problem  # 894,523 residents: 18-29 areas fit
    lo, hi = problem.feasible_counts()
    assert (lo, hi) == (18, 29)
    assert _count_for(problem, "auto", 22, 22)[0] == 22
    k, note = _count_for(problem, "auto", 30, 30)
    assert k == hi and "because the band forces it" in note
    assert _count_for(problem, 24, 22, 22) == (24, "Count 24, as configured (the previous plan had 22)")


def test_a_changed_count_splits_or_merges_contiguous_areas() -> None:
    problem = load_inputs(_quick(load_config(DEFAULT))).problem
    grown = _change_count(problem, np.zeros(problem.n, dtype=np.int64), 3)
    assert sorted(np.unique(grown).tolist()) == [0, 1, 2]
    assert len(np.unique(_change_count(problem, grown, 2))) == 2


def _grid_config(tmp_path: Path, make_grid: GridFactory, grow: float, count: int) -> RunConfig:
    """4 x 6 grid of 1,000-resident cells, districts D1 (columns 0-2) and D2 (3-5, times ``grow``),
    band 3,000-5,000, areas nested in districts, R0C0-R0C1 locked to 'Ely', R3C0-R3C1 kept together,
    R2C4/R3C4 kept apart."""
    grid = make_grid(4, 6)
    east = [int(code[3]) >= 3 for code in grid.index]
    grid["district"] = ["D2" if e else "D1" for e in east]
    grid["population"] = [round(1000 * grow) if e else 1000 for e in east]
    path = tmp_path / f"units-{grow}.geojson"
    grid.reset_index().to_file(path, driver="GeoJSON")
    raw = {
        "units": {"path": str(path), "code_field": "unit_code", "population_field": "population"}
        | {"district_field": "district"},
        "graph": {"contiguity": "rook"},
        "areas": {"min_population": 3000, "max_population": 5000, "count": count},
        "rules": {
            "nest_in": "district",
            "lock": [{"area": "Ely", "units": ["R0C0", "R0C1"]}],
            "keep_together": [["R3C0", "R3C1"]],
            "keep_apart": [["R2C4", "R3C4"]],
        },
        "search": {"steps": 200_000, "starts": 1, "seed": 2},
        "exact": {"enabled": False},
        "tradeoffs": {"enabled": False},
    }
    return config_from_dict(raw, source=tmp_path / "grid.toml")


def test_every_rule_holds_in_a_re_run_and_a_new_count_gets_a_new_id(tmp_path: Path, make_grid: GridFactory) -> None:
    base = tmp_path / "base"
    write_outputs(run(_grid_config(tmp_path, make_grid, 1.0, 6)), base)
    before = read_planfile(base).assignment
    assert "Ely" in set(before)

    same_count = run(_grid_config(tmp_path, make_grid, 1.2, 6), previous=base)
    assert all(r.ok for r in same_count.rules) and len(same_count.rules) == 6, same_count.rules
    assert set(same_count.areas.index) == set(before)  # every id kept, Ely included

    more = run(_grid_config(tmp_path, make_grid, 1.2, 7), previous=base)
    assert all(r.ok for r in more.rules), more.rules
    record = more.provenance["previous"]
    used = sorted(a for a in before if a.startswith("SDA-"))
    assert record["created_ids"] == [f"SDA-{int(used[-1][4:]) + 1:02d}"]
    assert record["retired_ids"] == []
    assert "as configured (the previous plan had 6)" in record["count_note"]
    assert set(before) <= set(more.areas.index)


def test_a_previous_plan_of_other_units_is_refused(tmp_path: Path, make_grid: GridFactory) -> None:
    other = tmp_path / "other.csv"
    other.write_text("unit_code,area_id\nX1,SDA-01\nX2,SDA-01\n", encoding="utf-8")
    cfg = _grid_config(tmp_path, make_grid, 1.0, 6)
    with pytest.raises(InputError, match=r"other.csv: only 0% of the current residents could be given an area"):
        run(cfg, previous=other)


def test_a_previous_csv_may_name_its_codes_as_the_units_file_does(tmp_path: Path, make_grid: GridFactory) -> None:
    # An officer's CSV keyed by the units file's own code column (here 'cell') is read, as
    # `sda evaluate` reads it; one with neither column is refused with a fix that `propose` has
    # (it has no --code-field or --area-field).
    grid = make_grid(2, 3)
    grid.index.name = "cell"
    path = tmp_path / "cells.geojson"
    grid.reset_index().to_file(path, driver="GeoJSON")
    raw = {
        "units": {"path": str(path), "code_field": "cell", "population_field": "population"},
        "areas": {"min_population": 2000, "max_population": 4000, "count": 2},
        "search": {"steps": 2000, "starts": 1},
        "exact": {"enabled": False},
        "tradeoffs": {"enabled": False},
    }
    cfg = config_from_dict(raw, source=tmp_path / "grid.toml")
    halves = {"R0C0": "West", "R0C1": "West", "R1C0": "West", "R0C2": "East", "R1C1": "East", "R1C2": "East"}
    previous = tmp_path / "previous.csv"
    previous.write_text("cell,area_id\n" + "".join(f"{c},{a}\n" for c, a in halves.items()), encoding="utf-8")
    plan = run(cfg, previous=previous)
    assert plan.provenance["previous"]["counts"]["same code"] == 6
    assert plan.provenance["previous"]["residents_moved"] == 0
    assert sorted(plan.areas.index) == ["East", "West"]

    odd = tmp_path / "odd.csv"
    odd.write_text("id,zone\n" + "".join(f"{c},{a}\n" for c, a in halves.items()), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        run(cfg, previous=odd)
    said = str(caught.value)
    assert "odd.csv" in said and "no unit code column" in said and "(found: id, zone)" in said, said
    assert "--code-field" not in said and "rename the column" in said, said


def test_retired_ids_are_never_reused_in_the_line(tmp_path: Path, make_grid: GridFactory) -> None:
    base, fewer = tmp_path / "base", tmp_path / "fewer"
    write_outputs(run(_grid_config(tmp_path, make_grid, 1.2, 7)), base)
    write_outputs(run(_grid_config(tmp_path, make_grid, 1.2, 6), previous=base), fewer)
    record = json.loads((fewer / "plan.json").read_text(encoding="utf-8"))["provenance"]
    retired = record["previous"]["retired_ids"]
    assert len(retired) == 1 and record["lineage"]["retired_ids"] == retired
    again = run(_grid_config(tmp_path, make_grid, 1.2, 7), previous=fewer)
    created = again.provenance["previous"]["created_ids"]
    highest = max(int(a[4:]) for a in read_planfile(base).assignment if a.startswith("SDA-"))
    assert created == [f"SDA-{highest + 1:02d}"] and retired[0] not in set(again.areas.index)
    assert again.provenance["lineage"]["retired_ids"] == retired


def _band_config(tmp_path: Path, make_grid: GridFactory, population: dict[str, int], name: str) -> RunConfig:
    """4 x 6 grid of 1,000-resident cells (``population`` overrides some), band 3,000-5,000, 6 areas."""
    grid = make_grid(4, 6)
    grid["population"] = [population.get(code, 1000) for code in grid.index]
    path = tmp_path / f"{name}.geojson"
    grid.reset_index().to_file(path, driver="GeoJSON")
    raw = {
        "units": {"path": str(path), "code_field": "unit_code", "population_field": "population"},
        "graph": {"contiguity": "rook"},
        "areas": {"min_population": 3000, "max_population": 5000, "count": 6},
        "search": {"steps": 200_000, "starts": 1, "seed": 2},
        "exact": {"enabled": False},
        "tradeoffs": {"enabled": False},
    }
    return config_from_dict(raw, source=tmp_path / f"{name}.toml")


def test_a_rerun_says_why_units_moved(tmp_path: Path, make_grid: GridFactory) -> None:
    """One area pushed over the ceiling by its residents alone: the re-run names it as the reason
    for every unit it gave away, in the record, the report and ``sda diff``."""
    base = tmp_path / "base"
    write_outputs(run(_band_config(tmp_path, make_grid, {}, "before")), base)
    before = read_planfile(base).assignment
    area = before.iloc[0]
    members = before.index[before == area].tolist()
    grown = {members[0]: 1000 + 5_600 - 1000 * len(members)}  # the area now holds 5,600
    far = before.iloc[-1]  # an area far from it, whose population changes a little
    grown[before.index[before == far][0]] = 1050
    rerun = run(_band_config(tmp_path, make_grid, grown, "after"), previous=base)
    record = rerun.provenance["previous"]
    assert record["outside_band"] == [{"area_id": area, "population": 5_600}]
    why = f"{area} held 5,600 residents on the current data, above the 5,000 maximum"
    out_of_area = [m for m in record["moved_units"] if m["from_area"] == area]
    assert out_of_area and all(m["reason"].startswith(why) for m in out_of_area), record["moved_units"]
    after = tmp_path / "after"
    write_outputs(rerun, after)
    report = (after / "report.md").read_text(encoding="utf-8")
    assert report.count(why) == len(out_of_area)  # once a unit, in the table of moves
    # Before the table, the moves summed by pair of areas, as sda diff prints them.
    flows = next(line for line in report.splitlines() if line.startswith("Between areas: "))
    told = re.findall(r"(\S+) → (\S+): (\d+) units?, ([\d,]+) residents?", flows)
    assert sum(int(n) for *_, n, _ in told) == len(record["moved_units"])
    assert sum(int(r.replace(",", "")) for *_, r in told) == record["residents_moved"]
    assert any(source == area for source, *_ in told)
    # The provenance table leaves the re-run's record to that section: it listed every move
    # again as Python dicts, and every unit gone from the previous plan (375 codes on one line for
    # a re-run of Peterborough alone from a county plan).
    provenance = report[report.index("## Provenance") :]
    assert "| previous." not in provenance and "| lineage." not in provenance
    # QGIS shows what moved too: a styled layer of the moved units, which only a re-run has.
    moved_layer = gpd.read_file(after / "plan.gpkg", layer="moved_units")
    assert sorted(moved_layer[["unit_code", "from_area", "to_area"]].itertuples(index=False, name=None)) == sorted(
        (m["unit_code"], m["from_area"], m["to_area"]) for m in record["moved_units"]
    )
    assert all(r.startswith(why) for r in moved_layer.loc[moved_layer["from_area"] == area, "reason"])
    styles = gpd.read_file(after / "plan.gpkg", layer="layer_styles")
    assert "moved_units" in set(styles["f_table_name"])
    assert "moved_units" not in {str(name) for name, _ in pyogrio.list_layers(base / "plan.gpkg")}

    result = CliRunner().invoke(cli, ["diff", str(base), str(after), "--out", str(tmp_path / "diff")])
    assert result.exit_code == 0, result.output
    assert why in result.output and "(5,600 on the current data, before any move)" in result.output
    # An area whose population changed with the data alone says so in a word, not with the same
    # figure twice; an area neither moved nor changed is not listed.
    touched = {area} | {m["to_area"] for m in record["moved_units"]}
    assert far not in touched  # else the case below tests nothing
    assert re.search(rf"{far} \[kept\]: [\d,]+ -> [\d,]+ \(changed with the data alone; no unit moved\)", result.output)
    assert all(f"{a} [kept]" not in result.output for a in set(before) - touched - {far}), result.output
    rows = list(csv.DictReader((tmp_path / "diff" / "areas.csv").read_text(encoding="utf-8").splitlines()))
    row = next(r for r in rows if r["previous_id"] == area)
    population_after = int(rerun.units.loc[rerun.assignment == area, "population"].sum())
    assert (row["population_before"], row["population_carried"]) == (str(1000 * len(members)), "5600")
    assert int(row["population_after"]) == population_after <= 5_000
    moved = list(csv.DictReader((tmp_path / "diff" / "moved.csv").read_text(encoding="utf-8").splitlines()))
    assert {r["unit_code"] for r in moved} == {m["unit_code"] for m in record["moved_units"]}
    assert all(r["reason"] for r in moved)
