"""Distances on the Earth and estimated arrivals."""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE = 111.195  # of latitude, and of longitude at the equator


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat: float, lon: float, radius_km: float) -> tuple[float, float, float, float]:
    """(min lat, max lat, min lon, max lon) around a point: a cheap SQL prefilter that
    contains every point within `radius_km`."""
    dlat = radius_km / KM_PER_DEGREE
    cos_lat = max(math.cos(math.radians(lat)), 0.01)
    dlon = min(radius_km / (KM_PER_DEGREE * cos_lat), 180.0)
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


def eta_minutes(distance: float, road_speed_kmh: float, road_factor: float) -> int:
    """Travel time on the road, whole minutes, at least one."""
    return max(1, math.ceil(distance * road_factor / road_speed_kmh * 60))
