"""An alert as a CAP 1.2 document (OASIS Common Alerting Protocol), for public warning
systems (FR-Alert, BE-Alert) and other software. Pure: alert in, XML bytes out."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.core import vocabulary as labels
from bot.core.i18n import translator
from bot.core.models import Alert, Severity
from bot.core.text import version_for

NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
# CAP wants RFC 3066 codes; these are the variants the region speaks.
_CAP_LANGUAGE = {"fr": "fr-BE", "nl": "nl-BE", "en": "en-GB"}
_CAP_SEVERITY = {
    Severity.MINOR: "Minor",
    Severity.MODERATE: "Moderate",
    Severity.SEVERE: "Severe",
    Severity.EXTREME: "Extreme",
}


def cap_time(moment: datetime, timezone: str) -> str:
    """`YYYY-MM-DDThh:mm:ss+hh:mm`: CAP's schema refuses a trailing Z."""
    local = moment.astimezone(ZoneInfo(timezone)).replace(microsecond=0)
    return local.isoformat()


def build_cap(
    alert: Alert,
    *,
    sender: str,
    timezone: str,
    radius_km: float,
    default_language: str,
    identifier_prefix: str = "passerelle",
) -> bytes:
    """One `<info>` per language the text was given in, its fixed parts in that language: a
    public warning system broadcasts each as that language. The texts of an alert name their
    languages (an untagged text is tagged with its author's when stored); `default_language`
    is for one that names none, whose author's language was never known."""
    ET.register_namespace("", NAMESPACE)

    def sub(parent: ET.Element, tag: str, value: str | None = None) -> ET.Element:
        element = ET.SubElement(parent, f"{{{NAMESPACE}}}{tag}")
        if value is not None:
            element.text = value
        return element

    root = ET.Element(f"{{{NAMESPACE}}}alert")
    sub(root, "identifier", f"{identifier_prefix}-alert-{alert.id}")
    sub(root, "sender", sender)
    sub(root, "sent", cap_time(alert.created_at, timezone))
    sub(root, "status", "Exercise" if alert.exercise else "Actual")
    sub(root, "msgType", "Alert")
    sub(root, "source", "Passerelle")
    sub(root, "scope", "Restricted")
    sub(root, "restriction", "Emergency services of the France-Belgium border region")
    # in the order the author gave them: the first is the main one
    languages = [lang for lang in alert.texts if lang in _CAP_LANGUAGE] or [default_language]
    for language in languages:
        _ = translator(language).gettext
        info = sub(root, "info")
        sub(info, "language", _CAP_LANGUAGE[language])
        sub(info, "category", "Safety")
        incident = alert.incident
        sub(info, "event", incident.title if incident else _("Alert"))
        sub(info, "urgency", "Immediate")
        sub(info, "severity", _CAP_SEVERITY[alert.severity])
        sub(info, "certainty", "Observed" if incident else "Likely")
        sub(info, "senderName", alert.author.name)
        words = version_for(alert.texts, language)
        sub(info, "headline", words[:140])
        sub(info, "description", words)
        sub(info, "instruction", _("Follow the instructions of the emergency services."))
        # CAP's order: parameters come before areas
        parameter = sub(info, "parameter")
        sub(parameter, "valueName", "severityLabel")
        sub(parameter, "value", _(labels.SEVERITY[alert.severity]))
        if incident is not None and incident.lat is not None and incident.lon is not None:
            area = sub(info, "area")
            sub(area, "areaDesc", incident.location_text or incident.title)
            sub(area, "circle", f"{incident.lat:.5f},{incident.lon:.5f} {radius_km:g}")
        elif incident is not None and incident.location_text:
            area = sub(info, "area")
            sub(area, "areaDesc", incident.location_text)
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body
