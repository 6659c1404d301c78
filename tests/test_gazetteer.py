"""Place names of the border region, in French and Dutch, and names that several places share."""

from __future__ import annotations

import pytest

from bot.core.models import Country
from bot.geo import gazetteer


def _labels(name: str) -> list[str]:
    return [p.label for p in gazetteer.lookup(name)]


@pytest.mark.parametrize(
    ("french", "dutch", "label"),
    [
        ("Mouscron", "Moeskroen", "Mouscron (Hainaut, BE)"),
        ("Tournai", "Doornik", "Tournai (Hainaut, BE)"),
        ("Lille", "Rijsel", "Lille (Nord, FR)"),
        ("Courtrai", "Kortrijk", "Kortrijk (West-Vlaanderen, BE)"),
        ("Ypres", "Ieper", "Ieper (West-Vlaanderen, BE)"),
        ("Dunkerque", "Duinkerke", "Dunkerque (Nord, FR)"),
        ("Mons", "Bergen", "Mons (Hainaut, BE)"),
    ],
)
def test_a_place_answers_to_its_french_and_its_dutch_name(
    french: str, dutch: str, label: str
) -> None:
    assert _labels(french) == [label]
    assert _labels(dutch) == [label]


def test_case_accents_and_dashes_do_not_matter() -> None:
    assert _labels("ARMENTIERES") == _labels("Armentières") == ["Armentières (Nord, FR)"]
    assert _labels("charleville mezieres") == ["Charleville-Mézières (Ardennes, FR)"]


def test_a_shared_name_gives_every_place_and_a_country_narrows_it() -> None:
    both = gazetteer.lookup("Comines")
    assert {(p.country, p.region) for p in both} == {(Country.FR, "Nord"), (Country.BE, "Hainaut")}
    # the Dutch name is the Belgian one only
    assert _labels("Komen") == ["Comines (Hainaut, BE)"]
    assert _labels("Comines FR") == ["Comines (Nord, FR)"]
    assert _labels("Comines (BE)") == ["Comines (Hainaut, BE)"]
    assert len(gazetteer.lookup("Lens")) == 2


def test_coordinates_are_those_of_the_place() -> None:
    (tournai,) = gazetteer.lookup("Doornik")
    assert tournai.lat == pytest.approx(50.607, abs=0.01)
    assert tournai.lon == pytest.approx(3.389, abs=0.01)
    (chooz,) = gazetteer.lookup("Chooz")  # under GeoNames' 1000 inhabitants: added by hand
    assert chooz.country is Country.FR


def test_unknown_names_and_places_outside_the_region_are_not_found() -> None:
    assert gazetteer.lookup("Atlantis") == []
    assert gazetteer.lookup("Marseille") == []  # not a border department
    assert gazetteer.lookup("") == []


def test_a_place_is_found_in_running_text() -> None:
    found = gazetteer.find_in_text("Feu d'entrepôt à Comines")
    assert found is not None and found[0] == "Comines" and len(found[1]) == 2
    found = gazetteer.find_in_text("Brand in loods te Moeskroen")
    assert found is not None and [p.name for p in found[1]] == ["Mouscron"]
    found = gazetteer.find_in_text("Fuite de chlore, gare de triage de Tournai")
    assert found is not None and [p.name for p in found[1]] == ["Tournai"]
    assert gazetteer.find_in_text("Quelqu'un a vu mes clés") is None


def test_every_border_department_and_province_is_covered() -> None:
    regions = {(p.country, p.region) for p in gazetteer.places()}
    for region in ("Nord", "Pas-de-Calais", "Aisne", "Ardennes", "Meuse", "Meurthe-et-Moselle"):
        assert (Country.FR, region) in regions
    for region in ("West-Vlaanderen", "Hainaut", "Namur", "Luxembourg"):
        assert (Country.BE, region) in regions
    assert len(gazetteer.places()) > 1000
    assert gazetteer.by_id(gazetteer.lookup("Tournai")[0].id) == gazetteer.lookup("Tournai")[0]
