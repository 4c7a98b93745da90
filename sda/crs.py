"""The coordinate reference systems sda uses: it computes in one and publishes GeoJSON in the other.

Every reader reprojects to British National Grid, so lengths and areas are metres and square
metres; GeoJSON is written in WGS84 longitude/latitude, as RFC 7946 requires.
"""

from __future__ import annotations

__all__ = ["BNG", "WGS84"]

#: British National Grid (OSGB36), metres: what every computation uses.
BNG = "EPSG:27700"
#: WGS84 longitude/latitude: the only CRS RFC 7946 GeoJSON allows.
WGS84 = "EPSG:4326"
