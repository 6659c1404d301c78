"""The region Passerelle serves: a box around the France–Belgium border, wide enough for the
gazetteer's departments and provinces (Nord, Pas-de-Calais, Aisne, Ardennes, Meuse,
Meurthe-et-Moselle; West-Vlaanderen, Hainaut, Namur, Luxembourg) and the hospitals units come
from (Brussels, Ghent, Lille). Coordinates of the roster and of the sites register are checked
against it; a point whose latitude and longitude were swapped is recognised."""

from __future__ import annotations

SOUTH, NORTH = 48.0, 52.0  # latitude, degrees north
WEST, EAST = 1.0, 7.5  # longitude, degrees east
NAME = "the France–Belgium border region"


def inside(lat: float, lon: float) -> bool:
    return SOUTH <= lat <= NORTH and WEST <= lon <= EAST


def problems(lat: float, lon: float) -> list[tuple[str, str]]:
    """Nothing for a point in the region; else (column, what) for each coordinate outside it,
    `lat` or `lon`, with a hint when the two were swapped."""
    if inside(lat, lon):
        return []
    if inside(lon, lat):
        return [
            (
                "lat",
                f"{lat:g}, {lon:g} is not in {NAME} but {lon:g}, {lat:g} is:"
                " swapped latitude and longitude?",
            )
        ]
    found = []
    if not SOUTH <= lat <= NORTH:
        found.append(("lat", f"{lat:g} is not in {NAME} (latitude {SOUTH:g} … {NORTH:g})"))
    if not WEST <= lon <= EAST:
        found.append(("lon", f"{lon:g} is not in {NAME} (longitude {WEST:g} … {EAST:g})"))
    return found
