"""Offline map context for Berlin: a few coordinates drawn under a path instead of map tiles.

The reports must render without network, so there is no tile server and no geo topojson
(plotly's geo traces download it from a CDN). Positions are approximate (about 100 m),
which is enough to tell where in the city a vehicle drove.
"""

from __future__ import annotations

import math

#: (min_lat, min_lng, max_lat, max_lng): the extent of the city of Berlin.
BERLIN_BBOX = (52.338, 13.088, 52.675, 13.761)
BERLIN_CENTER = (52.5163, 13.3777)  # Brandenburg Gate

#: S-Bahn ring (Ringbahn) stations in ring order: the inner city lies inside the ring.
RINGBAHN: tuple[tuple[str, float, float], ...] = (
    ("Westkreuz", 52.5010, 13.2834),
    ("Westend", 52.5183, 13.2848),
    ("Jungfernheide", 52.5306, 13.2996),
    ("Beusselstraße", 52.5344, 13.3292),
    ("Westhafen", 52.5364, 13.3435),
    ("Wedding", 52.5428, 13.3662),
    ("Gesundbrunnen", 52.5485, 13.3883),
    ("Schönhauser Allee", 52.5494, 13.4149),
    ("Prenzlauer Allee", 52.5447, 13.4270),
    ("Greifswalder Straße", 52.5402, 13.4385),
    ("Landsberger Allee", 52.5291, 13.4553),
    ("Storkower Straße", 52.5237, 13.4652),
    ("Frankfurter Allee", 52.5140, 13.4754),
    ("Ostkreuz", 52.5030, 13.4690),
    ("Treptower Park", 52.4936, 13.4613),
    ("Sonnenallee", 52.4728, 13.4557),
    ("Neukölln", 52.4690, 13.4424),
    ("Hermannstraße", 52.4674, 13.4316),
    ("Tempelhof", 52.4704, 13.3856),
    ("Südkreuz", 52.4753, 13.3653),
    ("Schöneberg", 52.4793, 13.3521),
    ("Innsbrucker Platz", 52.4781, 13.3426),
    ("Bundesplatz", 52.4775, 13.3289),
    ("Heidelberger Platz", 52.4798, 13.3122),
    ("Hohenzollerndamm", 52.4887, 13.3005),
    ("Halensee", 52.4962, 13.2905),
)

#: Places most Berliners know, for orientation: (name, lat, lng, label position).
LANDMARKS: tuple[tuple[str, float, float, str], ...] = (
    ("Brandenburg Gate", 52.5163, 13.3777, "bottom left"),
    ("TV Tower", 52.5208, 13.4094, "top right"),
    ("Tempelhofer Feld", 52.4730, 13.4030, "bottom center"),
    ("Spandau", 52.5359, 13.2006, "top center"),
    ("Tegel", 52.5880, 13.2870, "top center"),
    ("Pankow", 52.5690, 13.4020, "top center"),
    ("Steglitz", 52.4560, 13.3210, "bottom center"),
    ("Köpenick", 52.4450, 13.5750, "top center"),
    ("Müggelsee", 52.4390, 13.6460, "bottom center"),
)

KM_PER_DEG_LAT = 111.32


def km_per_deg_lng(lat: float) -> float:
    return KM_PER_DEG_LAT * math.cos(math.radians(lat))


def aspect_ratio(lat: float) -> float:
    """Pixels of one degree of latitude per pixel of one degree of longitude at ``lat``.

    Used as the y axis ``scaleratio`` so a km is as long north-south as east-west.
    """
    return 1.0 / math.cos(math.radians(lat))
