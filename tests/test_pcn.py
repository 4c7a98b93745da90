"""Unit -> PCN: the nearest practice and the largest share, on hand-made units whose answer is known."""

from __future__ import annotations

import warnings

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from sda.errors import InputError, SdaWarning
from sda.pcn import FAR_M, METHOD_TEXT, TIE_M, largest_share_pcn, nearest_practice_pcn

X0, Y0 = 545_000.0, 258_000.0  # Cambridge, British National Grid metres


def row_of_squares(codes: list[str]) -> gpd.GeoDataFrame:
    """1 km squares side by side from west to east, in the order given; centroids at 500 m, 1500 m..."""
    boxes = [shapely.box(X0 + 1000 * i, Y0, X0 + 1000 * (i + 1), Y0 + 1000) for i in range(len(codes))]
    return gpd.GeoDataFrame(geometry=boxes, crs="EPSG:27700", index=pd.Index(codes, name="unit_code"))


def practices_at(rows: list[tuple[str, str, float, float]]) -> gpd.GeoDataFrame:
    """Practices ``(practice_code, pcn_code, metres east of X0, metres north of Y0)``."""
    return gpd.GeoDataFrame(
        {"practice_code": [r[0] for r in rows], "pcn_code": [r[1] for r in rows]},
        geometry=[shapely.Point(X0 + r[2], Y0 + r[3]) for r in rows],
        crs="EPSG:27700",
    )


def test_nearest_practice_to_each_centroid() -> None:
    units = row_of_squares(["W", "M", "E"])
    # Centroids at 500, 1500 and 2500 m east. M is 1,300 m from P1 and 1,400 m from P2.
    practices = practices_at([("P1", "WEST", 200.0, 500.0), ("P2", "EAST", 2_900.0, 500.0)])
    got = nearest_practice_pcn(units, practices)
    assert got.to_dict() == {"W": "WEST", "M": "WEST", "E": "EAST"}
    assert got.name == "pcn_code"
    assert list(got.index) == ["W", "M", "E"]


def test_nearest_uses_the_centroid_not_the_practice_inside_the_unit() -> None:
    # An L-shaped unit: its practice sits at the far end of the long arm, 2.2 km from the
    # centroid; another PCN's practice stands just outside, 0.6 km from it.
    l_shape = shapely.Polygon([(0, 0), (3000, 0), (3000, 1000), (1000, 1000), (1000, 3000), (0, 3000)])
    units = gpd.GeoDataFrame(
        geometry=[shapely.affinity.translate(l_shape, X0, Y0)],
        crs="EPSG:27700",
        index=pd.Index(["L"], name="unit_code"),
    )
    centroid = units.geometry.centroid.iloc[0]
    inside = ("IN", "INSIDE", 2_900.0, 500.0)
    outside = ("OUT", "OUTSIDE", centroid.x - X0 + 600.0, centroid.y - Y0 + 600.0)
    assert shapely.Point(X0 + inside[2], Y0 + inside[3]).within(units.geometry.iloc[0])
    assert nearest_practice_pcn(units, practices_at([inside, outside])).loc["L"] == "OUTSIDE"


def test_practices_beyond_the_study_area_count() -> None:
    units = row_of_squares(["A", "B"])
    # No practice inside the row; the nearest to B is 300 m east of the row's end, another county's.
    practices = practices_at([("P1", "HOME", -4_000.0, 500.0), ("P2", "NEXT_COUNTY", 2_300.0, 500.0)])
    assert nearest_practice_pcn(units, practices).to_dict() == {"A": "NEXT_COUNTY", "B": "NEXT_COUNTY"}


@pytest.mark.parametrize("order", [[0, 1, 2], [2, 1, 0], [1, 2, 0]])
def test_equally_near_practices_go_to_the_first_pcn_code_whatever_the_file_order(order: list[int]) -> None:
    units = row_of_squares(["U"])
    # Two PCNs share a health centre 100 m north of the centroid; a third practice is 100 m
    # south, within TIE_M of the same distance; all three are equally near.
    rows = [
        ("P1", "PCN_C", 500.0, 600.0),
        ("P2", "PCN_B", 500.0, 600.0),
        ("P3", "PCN_D", 500.0, 400.0 - TIE_M / 2),
    ]
    practices = practices_at([rows[i] for i in order])
    assert nearest_practice_pcn(units, practices).loc["U"] == "PCN_B"


def test_a_practice_just_beyond_the_tie_distance_is_not_a_tie() -> None:
    units = row_of_squares(["U"])
    practices = practices_at([("P1", "PCN_Z", 500.0, 600.0), ("P2", "PCN_A", 500.0, 400.0 - 10 * TIE_M)])
    assert nearest_practice_pcn(units, practices).loc["U"] == "PCN_Z"


def shares_table(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["unit_code", "pcn_code", "share"])


def test_largest_share_wins() -> None:
    units = row_of_squares(["U1", "U2"])
    table = shares_table(
        [("U1", "A", 0.30), ("U1", "B", 0.45), ("U1", "C", 0.25), ("U2", "A", 0.90), ("U2", "C", 0.10)]
    )
    got = largest_share_pcn(units, table)
    assert got.to_dict() == {"U1": "B", "U2": "A"}
    assert got.name == "pcn_code"


def test_tied_shares_go_to_the_first_pcn_code_whatever_the_row_order() -> None:
    units = row_of_squares(["U"])
    rows = [("U", "Z", 0.4), ("U", "M", 0.4), ("U", "A", 0.2)]
    for ordered in (rows, rows[::-1], [rows[1], rows[2], rows[0]]):
        assert largest_share_pcn(units, shares_table(ordered)).loc["U"] == "M"


def test_shares_as_counts_work_like_fractions() -> None:
    units = row_of_squares(["U"])
    table = shares_table([("U", "A", 1_200.0), ("U", "B", 3_400.0)])  # registered patients, not shares
    assert largest_share_pcn(units, table).loc["U"] == "B"


def test_units_missing_from_the_table_get_blank_and_extra_rows_are_ignored() -> None:
    units = row_of_squares(["U1", "U2", "U3"])
    table = shares_table([("U3", "C", 1.0), ("U1", "A", 1.0), ("ELSEWHERE", "X", 1.0)])
    got = largest_share_pcn(units, table)
    assert list(got.index) == ["U1", "U2", "U3"]  # the units' order, not the table's
    assert got.to_dict() == {"U1": "A", "U2": "", "U3": "C"}


def test_each_method_is_described_for_the_report() -> None:
    assert set(METHOD_TEXT) == {"nearest", "shares"}
    assert "nearest" in METHOD_TEXT["nearest"] and "share" in METHOD_TEXT["shares"]


def test_units_far_from_every_practice_are_named_in_a_warning() -> None:
    units = row_of_squares(["W", "M", "E"])
    # A practice 29 km west of the first square: the other two are further than 30 km. Every unit
    # still gets its PCN, with a word.
    practices = practices_at([("P1", "FAR", -29_200.0, 500.0)])
    practices.attrs["source"] = "practices.csv"
    far = r"practices.csv: 2 of 3 units are more than 30 km .* furthest first: E \(32 km\), M \(31 km\)\."
    with pytest.warns(SdaWarning, match=far):
        got = nearest_practice_pcn(units, practices)
    assert set(got) == {"FAR"}
    # A practice 300 km north, a file for another region: no unit's PCN can be told, so it is an error.
    elsewhere = practices_at([("P1", "FAR", 0.0, 300_000.0)])
    elsewhere.attrs["source"] = "practices.csv"
    with pytest.raises(InputError, match=r"practices.csv: no unit is within 30 km .* \(the nearest is 300 km away\)"):
        nearest_practice_pcn(units, elsewhere)
    near = practices_at([("P1", "NEAR", 0.0, FAR_M - 2_000.0)])  # every centroid within FAR_M
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nearest_practice_pcn(units, near)
