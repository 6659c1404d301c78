"""Resource requests: the request card in the incident chat, the offer in an agency chat, the
border-crossing notice for liaisons, and the incident card's Resources section."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from babel.numbers import format_decimal

from bot.core import vocabulary
from bot.core.i18n import N_, Translator, each_language
from bot.core.models import Country, Incident, Offer, OfferStatus, RequestStatus, ResourceRequest
from bot.render import common
from bot.render.common import FLAG, text
from bot.render.roster import places_free

STAGE_MARK = {
    OfferStatus.OFFERED: "⏳",
    OfferStatus.DECLINED: "✖️",
    OfferStatus.EXPIRED: "⌛",
    OfferStatus.WITHDRAWN: "➖",
    OfferStatus.COMMITTED: "✅",
    OfferStatus.EN_ROUTE: "🚦",
    OfferStatus.ON_SCENE: "📍",
    OfferStatus.RELEASED: "🔓",
    OfferStatus.UNREACHABLE: "📵",
    OfferStatus.RECALLED: "↩️",
}
REQUEST_MARK = {
    RequestStatus.WAITING_LOCATION: "📍",
    RequestStatus.OPEN: "⏳",
    RequestStatus.FILLED: "✅",
    RequestStatus.UNFILLED: "❌",
    RequestStatus.CANCELLED: "➖",
}
MAX_UNREACHABLE_SHOWN = 8  # units in reach not asked, named on a card or notice
ESCALATION = N_(
    "Consider escalating: the provincial or departmental level (governor, préfet), then the "
    "national level, then the EU Civil Protection Mechanism (ERCC)."
)


def crossing_flag(unit_country: Country, incident_country: Country) -> str:
    """🇫🇷→🇧🇪 when a unit crosses the border, else nothing."""
    if unit_country is incident_country:
        return ""
    return f"{FLAG[unit_country]}→{FLAG[incident_country]}"


def type_name(tr: Translator, request: ResourceRequest) -> str:
    return tr.gettext(vocabulary.TYPE[request.type])


def asked(tr: Translator, request: ResourceRequest) -> str:
    """`2 × ambulance`"""
    return f"{request.quantity} × {type_name(tr, request)}"


def places(tr: Translator, n: int) -> str:
    return tr.ngettext("{n} place", "{n} places", n).format(n=n)


def _unit_line(tr: Translator, offer: Offer, incident_country: Country) -> str:
    unit = offer.unit
    flag = crossing_flag(unit.country, incident_country)
    line = (
        f"{vocabulary.TYPE_MARK[unit.type]} <b>{text(unit.code)}</b> {text(unit.name)}"
        f" · {text(unit.agency)}" + (f" {flag}" if flag else "")
    )
    if unit.counted and offer.amount:
        line += " · <b>" + places(tr, offer.amount) + "</b>"
    return line


def _recalled_line(tr: Translator, offer: Offer, timezone: str) -> str:
    """↩️ recalled 14:20 by Luc: needed on our side"""
    _ = tr.gettext
    moment = tr.time(offer.recalled_at, timezone) if offer.recalled_at else ""
    said = offer.recall_reason or ""
    # a reason chosen with a button is a msgid (translated); a typed one reads as typed
    reason = tr.gettext(said) if said else said
    return f"{STAGE_MARK[OfferStatus.RECALLED]} " + _("recalled {time} by {name}: {reason}").format(
        time=moment,
        name=text(offer.decided_by or "?"),
        reason=text(reason),
    )


def stages(tr: Translator, offer: Offer, timezone: str) -> str:
    """committed 14:03 → en route 14:05 → on scene 14:20 → released 15:00 · ETA 14:15"""
    _ = tr.gettext
    parts = []
    if offer.decided_at and offer.status is not OfferStatus.OFFERED:
        if offer.status in (OfferStatus.DECLINED, OfferStatus.EXPIRED, OfferStatus.WITHDRAWN):
            label = vocabulary.OFFER_STATUS[offer.status]
            return f"{STAGE_MARK[offer.status]} {_(label)} {tr.time(offer.decided_at, timezone)}"
        parts.append(f"{_('committed')} {tr.time(offer.decided_at, timezone)}")
    for moment, label in (
        (offer.en_route_at, vocabulary.OFFER_STATUS[OfferStatus.EN_ROUTE]),
        (offer.on_scene_at, vocabulary.OFFER_STATUS[OfferStatus.ON_SCENE]),
        (offer.released_at, vocabulary.OFFER_STATUS[OfferStatus.RELEASED]),
    ):
        if moment is not None:
            parts.append(f"{_(label)} {tr.time(moment, timezone)}")
    line = f"{STAGE_MARK[offer.status]} " + " → ".join(parts)
    arrival = offer.estimated_arrival
    if arrival is not None and offer.status in (OfferStatus.COMMITTED, OfferStatus.EN_ROUTE):
        line += " · " + _("ETA {time}").format(time=tr.time(arrival, timezone))
    return line


def _heading(tr: Translator, request: ResourceRequest) -> list[str]:
    _ = tr.gettext
    lines = []
    if request.exercise:
        lines.append(common.exercise_banner(tr))
    lines.append(
        "📦 <b>"
        + _("Request {number} · incident #{ref} {title}").format(
            number=request.id, ref=request.incident_ref, title=text(request.incident_title)
        )
        + "</b>"
    )
    return lines


def _request_block(tr: Translator, request: ResourceRequest, timezone: str) -> str:
    _ = tr.gettext
    lines = _heading(tr, request)
    wanted = f"<b>{text(asked(tr, request))}</b>"
    if request.note:
        wanted += f" — {text(request.note)}"
    lines.append(wanted)
    who = common.person(tr, request.requested_by)
    lines.append(
        _("Requested {time} by {name}").format(time=tr.time(request.created_at, timezone), name=who)
    )
    status = _(vocabulary.REQUEST_STATUS[request.status])
    lines.append(
        f"{REQUEST_MARK[request.status]} "
        + _("Status: {status} · committed {committed} of {quantity}").format(
            status=status, committed=request.committed, quantity=request.quantity
        )
    )
    if request.status is RequestStatus.WAITING_LOCATION:
        lines.append("")
        lines.append(
            "📍 <b>"
            + _(
                "The incident has no location yet. Reply to this message with a shared "
                "location or a place name (for example Tournai)."
            )
            + "</b>"
        )
    engaged = [
        o
        for o in request.offers
        if o.status.engaged or o.status in (OfferStatus.RELEASED, OfferStatus.RECALLED)
    ]
    if engaged:
        lines.append("")
        for offer in engaged:
            lines.append(_unit_line(tr, offer, request.incident_country))
            if offer.status is OfferStatus.RECALLED:
                lines.append("   " + _recalled_line(tr, offer, timezone))
            else:
                lines.append("   " + stages(tr, offer, timezone))
    waiting = [o for o in request.offers if o.status is OfferStatus.OFFERED]
    if waiting:
        lines.append("")
        lines.append(
            "⏳ "
            + _("Asked, no answer yet: {units}").format(
                units=tr.join(
                    f"{text(o.unit.code)} ({text(o.unit.agency)}, {o.distance_km:.0f} km"
                    + (
                        ", " + places(tr, o.asked) + ", " + places_free(tr, o.unit)
                        if o.unit.counted
                        else ""
                    )
                    + ")"
                    for o in waiting
                )
            )
        )
    for status in (OfferStatus.DECLINED, OfferStatus.EXPIRED):
        gone = [o for o in request.offers if o.status is status]
        if gone:
            lines.append(
                f"{STAGE_MARK[status]} {_(vocabulary.OFFER_STATUS[status])}: "
                + tr.join(text(o.unit.code) for o in gone)
            )
    if request.status is RequestStatus.UNFILLED:
        lines.append("")
        lines.append("❌ <b>" + _unfilled(tr, request) + "</b>")
        unreached = _unreachable_lines(tr, request)
        lines.extend([*unreached, ""] if unreached else [])
        lines.append(_(ESCALATION))
    elif request.status is RequestStatus.OPEN:
        lines.extend(_unreachable_lines(tr, request))  # nearer than those asked
        lines.append("")
        lines.append("<i>" + _("/cancel withdraws this request.") + "</i>")
    return "\n".join(lines)


def _unfilled(tr: Translator, request: ResourceRequest) -> str:
    """Why the request is not filled: nobody in reach, nobody who answered, or units in
    reach whose agency Passerelle cannot reach (then named by `_unreachable_lines`)."""
    _ = tr.gettext
    unreached = any(o.status is OfferStatus.UNREACHABLE for o in request.offers)
    asked_any = any(o.status is not OfferStatus.UNREACHABLE for o in request.offers)
    kind = type_name(tr, request)
    if request.committed == 0:
        if not asked_any and unreached:
            return _(
                "Nobody could be asked: the available {type} within reach belong to agencies "
                "Passerelle cannot reach."
            ).format(type=kind)
        if not asked_any:
            return _("Nobody can help: no {type} is available within reach.").format(type=kind)
        if unreached:
            return _("None of the units asked can help.")
        return _("Nobody can help: no available {type} within reach answered.").format(type=kind)
    if unreached:
        return _("Only {committed} of {quantity} found: nobody else could be asked.").format(
            committed=request.committed, quantity=request.quantity
        )
    return _("Only {committed} of {quantity} found: nobody else can help.").format(
        committed=request.committed, quantity=request.quantity
    )


def _unreachable_lines(tr: Translator, request: ResourceRequest) -> list[str]:
    """Units in reach that were not asked, their agency having no chat Passerelle can reach:
    by name, nearest first, for someone to phone them."""
    _ = tr.gettext
    unreached = [o for o in request.offers if o.status is OfferStatus.UNREACHABLE]
    if not unreached:
        return []
    lines = [
        "",
        "📵 "
        + _(
            "In reach but not asked: their agency has no chat Passerelle can reach. "
            "Call them directly:"
        ),
    ]
    for offer in unreached[:MAX_UNREACHABLE_SHOWN]:
        distance = format_decimal(offer.distance_km, format="0", locale=tr.locale)
        lines.append(f"{_unit_line(tr, offer, request.incident_country)} · {distance} km")
    more = len(unreached) - MAX_UNREACHABLE_SHOWN
    if more > 0:
        lines.append(f"… (+{more})")
    return lines


def render_request_card(request: ResourceRequest, languages: Sequence[str], timezone: str) -> str:
    return each_language(languages, lambda tr: _request_block(tr, request, timezone))


def _where(tr: Translator, incident: Incident) -> str:
    """🇧🇪 Belgium · Gare de triage de Tournai 📍 50.61400, 3.40600"""
    where = text(incident.location_text) if incident.location_text else ""
    if incident.lat is not None and incident.lon is not None:
        where = (
            (where + " " if where else "") + "📍 " + common.coordinates(incident.lat, incident.lon)
        )
    return common.country(tr, incident.country) + (f" · {where}" if where else "")


def _offer_block(
    tr: Translator,
    offer: Offer,
    request: ResourceRequest,
    incident: Incident,
    timezone: str,
    stale_after_hours: float | None = None,
    now: datetime | None = None,
) -> str:
    _ = tr.gettext
    lines = []
    if incident.exercise:
        lines.append(common.exercise_banner(tr))
    lines.append(
        "📦 <b>"
        + _("Request for help · incident #{ref} {title}").format(
            ref=incident.ref, title=text(incident.title)
        )
        + "</b>"
    )
    lines.append(_where(tr, incident))
    lines.append(
        _("Asked: {what} by {name}").format(
            what=f"<b>{text(asked(tr, request))}</b>", name=common.person(tr, request.requested_by)
        )
    )
    if request.note:
        lines.append(_("Note: {note}").format(note=text(request.note)))
    lines.append("")
    lines.append(_("Your unit: {unit}").format(unit=_unit_line(tr, offer, incident.country)))
    unit = offer.unit
    if unit.counted:
        if offer.status is OfferStatus.OFFERED:
            asked_line = (
                "🛏 <b>"
                + _("Asked: {asked} · {free}").format(
                    asked=places(tr, offer.asked), free=places_free(tr, unit)
                )
                + "</b>"
            )
            if offer.asked > 1:
                asked_line += " · " + _("you may commit fewer")
            lines.append(asked_line)
        else:
            lines.append("🛏 " + places_free(tr, unit))
        moment = unit.reported_at or unit.confirmed_at
        stale = _(
            "Availability out of date (last reported {time}): check before committing."
        ).format(time=tr.datetime(moment, timezone) if moment else "—")
        if (
            stale_after_hours is not None
            and now is not None
            and unit.availability_stale(now, stale_after_hours)
        ):
            lines.append("⚠️ " + stale)
    lines.append(
        _("{distance} km away · about {minutes} min on the road").format(
            distance=format_decimal(offer.distance_km, format="0.0", locale=tr.locale),
            minutes=offer.eta_minutes,
        )
    )
    flag = crossing_flag(offer.unit.country, incident.country)
    if flag:
        lines.append(flag + " " + _("This unit would cross the border."))
    lines.append("")
    lines.append(_offer_state(tr, offer, request, timezone))
    return "\n".join(lines)


def _offer_state(tr: Translator, offer: Offer, request: ResourceRequest, timezone: str) -> str:
    _ = tr.gettext
    status = offer.status
    if status is OfferStatus.OFFERED:
        return (
            "⏳ <b>"
            + _("Commit or decline before {time}.").format(time=tr.time(offer.expires_at, timezone))
            + "</b>"
        )
    if status is OfferStatus.DECLINED:
        return "✖️ " + _("Declined by {name}.").format(name=text(offer.decided_by or "?"))
    if status is OfferStatus.EXPIRED:
        return "⌛ " + _("No answer in time: the next unit was asked.")
    if status is OfferStatus.WITHDRAWN:
        if request.status is RequestStatus.FILLED:
            return "➖ <b>" + _("The request is filled: this unit is not needed.") + "</b>"
        if request.status is RequestStatus.CANCELLED:
            return "➖ <b>" + _("The request was cancelled.") + "</b>"
        return "➖ " + _("Withdrawn: the unit is no longer available.")
    if status is OfferStatus.RECALLED:
        return _recalled_line(tr, offer, timezone)
    who = _("Committed by {name}.").format(name=text(offer.decided_by or "?"))
    return who + "\n" + stages(tr, offer, timezone)


def render_offer(
    offer: Offer,
    request: ResourceRequest,
    incident: Incident,
    languages: Sequence[str],
    timezone: str,
    stale_after_hours: float | None = None,
    now: datetime | None = None,
) -> str:
    """An offer in an agency chat. With `stale_after_hours` (and `now`), a facility whose
    availability was reported longer ago is marked stale."""
    return each_language(
        languages,
        lambda tr: _offer_block(tr, offer, request, incident, timezone, stale_after_hours, now),
    )


def _recall_block(
    tr: Translator, offer: Offer, request: ResourceRequest, timezone: str, reopened: bool
) -> str:
    _ = tr.gettext
    lines = _heading(tr, request)
    lines.append(_unit_line(tr, offer, request.incident_country))
    lines.append(_recalled_line(tr, offer, timezone))
    if reopened:
        lines.append(
            "⏳ <b>"
            + _("The request is open again for what is missing: {missing} of {quantity}.").format(
                missing=request.quantity - request.committed, quantity=request.quantity
            )
            + "</b>"
        )
    return "\n".join(lines)


def render_recall(
    offer: Offer,
    request: ResourceRequest,
    languages: Sequence[str],
    timezone: str,
    *,
    reopened: bool,
) -> str:
    """Told to the chat that asked when an agency takes back a unit or places it committed."""
    return each_language(
        languages, lambda tr: _recall_block(tr, offer, request, timezone, reopened)
    )


def _crossing_block(
    tr: Translator, offer: Offer, request: ResourceRequest, incident: Incident, timezone: str
) -> str:
    _ = tr.gettext
    unit = offer.unit
    lines = []
    if incident.exercise:
        lines.append(common.exercise_banner(tr))
    lines.append(
        crossing_flag(unit.country, incident.country) + " <b>" + _("Border crossing") + "</b>"
    )
    lines.append(
        _(
            "{unit} of {agency} ({from_country}) is committed to incident #{ref} {title} "
            "({to_country})."
        ).format(
            unit=f"<b>{text(unit.code)}</b> {text(unit.name)}",
            agency=text(unit.agency),
            from_country=common.country(tr, unit.country),
            ref=incident.ref,
            title=text(incident.title),
            to_country=common.country(tr, incident.country),
        )
    )
    lines.append(
        _("Request {number}: {what}, by {name}.").format(
            number=request.id,
            what=text(asked(tr, request)),
            name=common.person(tr, request.requested_by),
        )
    )
    lines.append(stages(tr, offer, timezone))
    return "\n".join(lines)


def render_crossing(
    offer: Offer,
    request: ResourceRequest,
    incident: Incident,
    languages: Sequence[str],
    timezone: str,
) -> str:
    return each_language(
        languages, lambda tr: _crossing_block(tr, offer, request, incident, timezone)
    )


def _notice_block(tr: Translator, request: ResourceRequest, what: str, timezone: str) -> str:
    _ = tr.gettext
    lines = _heading(tr, request)
    if what == "filled":
        lines.append(
            "✅ <b>" + _("Filled: {what} committed.").format(what=text(asked(tr, request))) + "</b>"
        )
        for offer in request.offers:
            if offer.status.engaged:
                lines.append(_unit_line(tr, offer, request.incident_country))
                lines.append("   " + stages(tr, offer, timezone))
    else:
        lines.append("❌ <b>" + _unfilled(tr, request) + "</b>")
        unreached = _unreachable_lines(tr, request)
        lines.extend([*unreached, ""] if unreached else [])
        lines.append(_(ESCALATION))
    return "\n".join(lines)


def render_request_notice(
    request: ResourceRequest, what: str, languages: Sequence[str], timezone: str
) -> str:
    """Told to the incident chat when a request is filled, or when nobody (else) can help."""
    return each_language(languages, lambda tr: _notice_block(tr, request, what, timezone))


def _unreachable_block(
    tr: Translator,
    request: ResourceRequest,
    incident: Incident,
    blocked: frozenset[str],
    timezone: str,
) -> str:
    _ = tr.gettext
    lines = _heading(tr, request)
    lines.append(_where(tr, incident))
    lines.append(
        _("Asked: {what} by {name}").format(
            what=f"<b>{text(asked(tr, request))}</b>", name=common.person(tr, request.requested_by)
        )
    )
    if request.status is RequestStatus.UNFILLED:
        lines.append("")
        lines.append("❌ <b>" + _unfilled(tr, request) + "</b>")
    # still open: nearer units than those asked could not be asked
    lines.extend(_unreachable_lines(tr, request))
    lines.append("")
    agencies = dict.fromkeys(
        o.unit.agency for o in request.offers if o.status is OfferStatus.UNREACHABLE
    )
    for agency in agencies:
        why = (
            _("its chat no longer receives Passerelle's messages (the bot was removed or blocked)")
            if agency in blocked
            else _("no chat of this agency is registered in Passerelle")
        )
        lines.append(f"• <b>{text(agency)}</b>: {why}")
    lines.append("")
    lines.append(
        _(
            "Phone them if they can help. To have them asked next time, an admin registers "
            "their chat (kind agency) in the configuration."
        )
    )
    return "\n".join(lines)


def render_unreachable(
    request: ResourceRequest,
    incident: Incident,
    blocked: frozenset[str],
    languages: Sequence[str],
    timezone: str,
) -> str:
    """Told to the liaison chats when units in reach were not asked, their agency having no
    chat Passerelle can reach (`blocked`: the agencies whose chat is registered but cut off):
    nearer ones than those asked while the request is open, all of them when it ends not
    filled. Who they are, to phone them."""
    return each_language(
        languages, lambda tr: _unreachable_block(tr, request, incident, blocked, timezone)
    )


def resources_section(
    tr: Translator, requests: Sequence[ResourceRequest], timezone: str
) -> list[str]:
    """The incident card's Resources: units committed (and released), and open requests."""
    _ = tr.gettext
    lines: list[str] = []
    for request in requests:
        for offer in request.offers:
            if offer.status.engaged or offer.status is OfferStatus.RELEASED:
                lines.append(_unit_line(tr, offer, request.incident_country))
                lines.append("   " + stages(tr, offer, timezone))
            elif offer.status is OfferStatus.RECALLED:
                lines.append(_unit_line(tr, offer, request.incident_country))
                lines.append("   " + _recalled_line(tr, offer, timezone))
    for request in requests:
        if request.is_open or request.status is RequestStatus.UNFILLED:
            lines.append(
                f"{REQUEST_MARK[request.status]} "
                + _("Request {number}: {what}, {committed} committed · {status}").format(
                    number=request.id,
                    what=text(asked(tr, request)),
                    committed=request.committed,
                    status=_(vocabulary.REQUEST_STATUS[request.status]),
                )
            )
    if not lines:
        return []
    return ["", "<b>" + _("Resources") + "</b>", *lines]
