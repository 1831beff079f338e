"""French departments: code, prefecture, its postcode and approximate coordinates.

Used to spread seeded centres over real postcodes and to rank centres by distance from a
patient's postcode (department of the postcode -> prefecture coordinates -> great-circle km).
"""

from __future__ import annotations

import math
from typing import NamedTuple


class Department(NamedTuple):
    code: str
    prefecture: str
    postcode: str
    lat: float
    lon: float


DEPARTMENTS: tuple[Department, ...] = tuple(
    Department(*row)
    for row in (
        ("01", "Bourg-en-Bresse", "01000", 46.205, 5.225),
        ("02", "Laon", "02000", 49.564, 3.620),
        ("03", "Moulins", "03000", 46.566, 3.333),
        ("04", "Digne-les-Bains", "04000", 44.092, 6.236),
        ("05", "Gap", "05000", 44.559, 6.079),
        ("06", "Nice", "06000", 43.710, 7.262),
        ("07", "Privas", "07000", 44.735, 4.599),
        ("08", "Charleville-Mezieres", "08000", 49.762, 4.720),
        ("09", "Foix", "09000", 42.965, 1.607),
        ("10", "Troyes", "10000", 48.297, 4.074),
        ("11", "Carcassonne", "11000", 43.213, 2.349),
        ("12", "Rodez", "12000", 44.350, 2.575),
        ("13", "Marseille", "13001", 43.296, 5.370),
        ("14", "Caen", "14000", 49.183, -0.371),
        ("15", "Aurillac", "15000", 44.926, 2.440),
        ("16", "Angouleme", "16000", 45.648, 0.156),
        ("17", "La Rochelle", "17000", 46.160, -1.151),
        ("18", "Bourges", "18000", 47.081, 2.399),
        ("19", "Tulle", "19000", 45.267, 1.771),
        ("2A", "Ajaccio", "20000", 41.919, 8.738),
        ("2B", "Bastia", "20200", 42.697, 9.450),
        ("21", "Dijon", "21000", 47.322, 5.041),
        ("22", "Saint-Brieuc", "22000", 48.514, -2.765),
        ("23", "Gueret", "23000", 46.171, 1.871),
        ("24", "Perigueux", "24000", 45.184, 0.721),
        ("25", "Besancon", "25000", 47.238, 6.024),
        ("26", "Valence", "26000", 44.933, 4.892),
        ("27", "Evreux", "27000", 49.024, 1.151),
        ("28", "Chartres", "28000", 48.446, 1.489),
        ("29", "Quimper", "29000", 47.996, -4.102),
        ("30", "Nimes", "30000", 43.837, 4.360),
        ("31", "Toulouse", "31000", 43.605, 1.444),
        ("32", "Auch", "32000", 43.646, 0.586),
        ("33", "Bordeaux", "33000", 44.838, -0.579),
        ("34", "Montpellier", "34000", 43.611, 3.877),
        ("35", "Rennes", "35000", 48.117, -1.678),
        ("36", "Chateauroux", "36000", 46.810, 1.691),
        ("37", "Tours", "37000", 47.394, 0.685),
        ("38", "Grenoble", "38000", 45.188, 5.724),
        ("39", "Lons-le-Saunier", "39000", 46.675, 5.555),
        ("40", "Mont-de-Marsan", "40000", 43.890, -0.500),
        ("41", "Blois", "41000", 47.586, 1.335),
        ("42", "Saint-Etienne", "42000", 45.440, 4.387),
        ("43", "Le Puy-en-Velay", "43000", 45.043, 3.885),
        ("44", "Nantes", "44000", 47.218, -1.554),
        ("45", "Orleans", "45000", 47.903, 1.909),
        ("46", "Cahors", "46000", 44.448, 1.441),
        ("47", "Agen", "47000", 44.203, 0.616),
        ("48", "Mende", "48000", 44.518, 3.500),
        ("49", "Angers", "49000", 47.478, -0.563),
        ("50", "Saint-Lo", "50000", 49.116, -1.091),
        ("51", "Chalons-en-Champagne", "51000", 48.957, 4.363),
        ("52", "Chaumont", "52000", 48.111, 5.139),
        ("53", "Laval", "53000", 48.073, -0.770),
        ("54", "Nancy", "54000", 48.692, 6.184),
        ("55", "Bar-le-Duc", "55000", 48.772, 5.160),
        ("56", "Vannes", "56000", 47.658, -2.760),
        ("57", "Metz", "57000", 49.119, 6.176),
        ("58", "Nevers", "58000", 46.990, 3.159),
        ("59", "Lille", "59000", 50.629, 3.057),
        ("60", "Beauvais", "60000", 49.430, 2.081),
        ("61", "Alencon", "61000", 48.432, 0.091),
        ("62", "Arras", "62000", 50.291, 2.777),
        ("63", "Clermont-Ferrand", "63000", 45.778, 3.087),
        ("64", "Pau", "64000", 43.295, -0.371),
        ("65", "Tarbes", "65000", 43.233, 0.078),
        ("66", "Perpignan", "66000", 42.699, 2.895),
        ("67", "Strasbourg", "67000", 48.573, 7.752),
        ("68", "Colmar", "68000", 48.079, 7.358),
        ("69", "Lyon", "69001", 45.764, 4.836),
        ("70", "Vesoul", "70000", 47.622, 6.155),
        ("71", "Macon", "71000", 46.307, 4.828),
        ("72", "Le Mans", "72000", 48.006, 0.199),
        ("73", "Chambery", "73000", 45.564, 5.918),
        ("74", "Annecy", "74000", 45.899, 6.129),
        ("75", "Paris", "75001", 48.857, 2.352),
        ("76", "Rouen", "76000", 49.443, 1.100),
        ("77", "Melun", "77000", 48.540, 2.660),
        ("78", "Versailles", "78000", 48.805, 2.120),
        ("79", "Niort", "79000", 46.324, -0.465),
        ("80", "Amiens", "80000", 49.894, 2.296),
        ("81", "Albi", "81000", 43.929, 2.148),
        ("82", "Montauban", "82000", 44.018, 1.355),
        ("83", "Toulon", "83000", 43.124, 5.928),
        ("84", "Avignon", "84000", 43.949, 4.806),
        ("85", "La Roche-sur-Yon", "85000", 46.670, -1.426),
        ("86", "Poitiers", "86000", 46.580, 0.340),
        ("87", "Limoges", "87000", 45.834, 1.262),
        ("88", "Epinal", "88000", 48.173, 6.450),
        ("89", "Auxerre", "89000", 47.798, 3.567),
        ("90", "Belfort", "90000", 47.640, 6.863),
        ("91", "Evry-Courcouronnes", "91000", 48.629, 2.441),
        ("92", "Nanterre", "92000", 48.892, 2.207),
        ("93", "Bobigny", "93000", 48.909, 2.440),
        ("94", "Creteil", "94000", 48.790, 2.455),
        ("95", "Cergy", "95000", 49.036, 2.076),
        ("971", "Basse-Terre", "97100", 15.998, -61.726),
        ("972", "Fort-de-France", "97200", 14.616, -61.059),
        ("973", "Cayenne", "97300", 4.922, -52.313),
        ("974", "Saint-Denis", "97400", -20.882, 55.450),
        ("976", "Mamoudzou", "97600", -12.781, 45.228),
    )
)

BY_CODE: dict[str, Department] = {d.code: d for d in DEPARTMENTS}


def department_of(postcode: str) -> Department | None:
    """The department of a five-digit French postcode, or None when it is not one."""
    if len(postcode) != 5 or not postcode.isdigit():
        return None
    if postcode.startswith("97"):
        return BY_CODE.get(postcode[:3])
    if postcode.startswith("20"):
        return BY_CODE["2A" if postcode < "20200" else "2B"]
    return BY_CODE.get(postcode[:2])


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, Earth radius 6371 km)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dlat, dlon = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dlat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlon / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(a)))
