"""The map's data (bot/board/geo.py): the border and the towns as JSON, and the bot's own web
server answering /board/api/geo with it. The map itself: tests/test_board_map.py."""

from __future__ import annotations

import json
import re

from pytest import approx

from bot.board.geo import geo, geo_etag, geo_json
from bot.geo.gazetteer import places
from bot.geo.maps import border
from tests.conftest import COMMANDER
from tests.harness import Harness
from tests.test_board_api import Board as ApiClient
from tests.test_board_api import launch


def test_geo_json_holds_the_border_and_the_towns() -> None:
    data = json.loads(geo_json("https://tiles.example/{z}/{x}/{y}.png"))
    assert data["tiles_url"] == "https://tiles.example/{z}/{x}/{y}.png"
    assert json.loads(geo_json())["tiles_url"] == ""
    [line] = data["border"]
    assert len(line) == len(border())
    assert line[0] == approx(list(border()[0]), abs=1e-5)
    towns = data["towns"]
    assert len(towns) == len(places())
    populations = [t["population"] for t in towns]
    assert populations == sorted(populations, reverse=True)
    lille = towns[0]
    assert lille["name"] == "Lille" and lille["country"] == "FR" and "Rijsel" in lille["also"]
    assert set(lille) >= {"name", "lat", "lon", "country"}
    names = {t["name"]: t.get("names") for t in towns}
    assert names["Lille"] == {"nl": "Rijsel"}
    assert names["Kortrijk"] == {"fr": "Courtrai"}
    assert names["Mouscron"] == {"nl": "Moeskroen"}
    assert names["Ostend"] == {"fr": "Ostende"}
    assert names["Lambersart"] is None
    assert geo_json() is geo_json()  # built once
    assert geo_etag() == geo_etag() != geo_etag("x")
    assert re.fullmatch(r'"[0-9a-f]{32}"', geo_etag())
    assert geo()["towns"] is geo("x")["towns"]


async def test_the_bots_web_server_serves_the_maps_data(harness: Harness) -> None:
    """`python -m bot`'s web server answers /board/api/geo with bot/board/geo.py's data (the
    whole border, every town), to a session only."""
    client = ApiClient(harness)
    try:
        assert (await client.get("/board/api/geo"))[0] == 401
        assert (await client.session(init_data=launch(COMMANDER)))[0] == 200
        status, answer = await client.get("/board/api/geo")
        assert status == 200
        assert answer == json.loads(geo_json(harness.settings.board.tiles_url))
        assert len(answer["border"][0]) == len(border()) and len(answer["towns"]) == len(places())
    finally:
        await client.close()
