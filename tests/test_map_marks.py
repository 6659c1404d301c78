"""The map marks where located timeline entries were shared, numbered as in the timeline, with
who shared them."""

from __future__ import annotations

from bot.core.i18n import translator
from bot.geo.maps import MapData, MapMark, MapUnit, map_layout, render_map
from tests.harness import Harness
from tests.test_maps import png_info

FR = translator("fr").gettext
NL = translator("nl").gettext
LEGEND = "Shared location: its number in the timeline, who shared it"


def test_every_mark_is_labelled_apart_from_the_rest() -> None:
    lat, lon = 50.6071, 3.3894  # Tournai
    marks = [
        MapMark(2, "Jan Peeters", lat, lon),
        MapMark(5, "Jan Peeters", lat, lon),  # the same place shared again
        MapMark(9, "Marc Delattre", lat + 0.02, lon - 0.03),
        MapMark(14, "Sophie", lat - 0.01, lon + 0.04),
    ]
    units = [MapUnit("BE-WAPI-AMB-1", "ambulance", lat, lon, True)]
    data = MapData(1, "Fuite de chlore", lat, lon, units, (), marks=marks)
    layout = map_layout(data, ("fr", "nl"))
    assert set(layout.mark_labels) == {m.label for m in marks}
    assert "2. Jan Peeters" in layout.mark_labels and "14. Sophie" in layout.mark_labels
    named = [*layout.unit_labels.values(), *layout.mark_labels.values()]
    for i, box in enumerate(named):
        assert box.within(layout.map_box)
        assert box.overlap(layout.legend_box) == 0
        for other in named[:i]:
            assert box.overlap(other) == 0
    assert f"{FR(LEGEND)} / {NL(LEGEND)}" in layout.legend
    _, _, texts = png_info(render_map(data, ("fr",)))
    assert "9. Marc Delattre (50.62710, 3.35940)" in texts["Comment"]
    assert FR(LEGEND) in texts["Description"]
    # no located entry: no legend entry for them
    plain = map_layout(MapData(1, "Fuite de chlore", lat, lon, units), ("fr",))
    assert FR(LEGEND) not in " ".join(plain.legend) and not plain.mark_labels


async def test_map_marks_the_shared_locations_numbered_as_in_the_timeline(
    harness: Harness,
) -> None:
    h = harness
    await h.say(h.commander_fr, h.ops_fr, "/incident Feu de stockage, zone nord")  # entry 1
    card = h.card(h.ops_fr)
    await h.sim.send_location(h.responder, h.ops_fr, 50.7840, 3.1270, reply_to=card)  # 2
    await h.settle()
    await h.say(h.responder, h.ops_fr, "Fumée noire, vent vers Menin", reply_to=card)  # 3
    await h.sim.send_location(h.commander_fr, h.ops_fr, 50.7790, 3.1350, reply_to=card)  # 4
    await h.settle()
    await h.say(h.commander_fr, h.ops_fr, "/carte")
    sent = h.sim.bot_messages(h.ops_fr)[-1]
    assert sent.photo is not None
    _, _, texts = png_info(sent.photo.data)
    assert texts["Comment"] == (
        "2. Jan Peeters (50.78400, 3.12700) | 4. Julie Lefebvre (50.77900, 3.13500)"
    )
    assert FR(LEGEND) in texts["Description"]
    # the same numbers as /timeline gives them
    await h.say(h.commander_fr, h.ops_fr, "/maincourante")
    text = h.last_text(h.ops_fr)
    assert "2. " in text and "📍 50.78400, 3.12700" in text
    line_two = next(line for line in text.splitlines() if line.startswith("2. "))
    line_four = next(line for line in text.splitlines() if line.startswith("4. "))
    assert "Jan Peeters" in line_two and "50.78400" in line_two
    assert "Julie Lefebvre" in line_four and "50.77900" in line_four
