"""`python -m bot report export N --with-files DIR`: the after-action report together with the
originals of the files sent to its timeline, as a folder that can be handed to an inquiry
(a prosecutor, an inspector): the HTML report, the JSON export whose paths point into the
folder, every kept file as it was downloaded, and SHA256SUMS (`sha256sum -c SHA256SUMS`).

Each original is checked against the SHA-256 recorded when it was kept: a file changed or
lost since is said, not hidden."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from bot.core.models import KeepStatus, Report
from bot.render.report import render_report
from bot.reports.report import to_json

FILES = "files"
CHUNK = 1 << 20


@dataclass
class Archive:
    """What an export wrote, and what it found wrong."""

    folder: Path
    written: list[str] = field(default_factory=list)  # paths relative to the folder
    originals: int = 0
    problems: list[str] = field(default_factory=list)


def _copy(source: Path, target: Path) -> str:
    """Copies the file, returning the SHA-256 of what was copied."""
    digest = hashlib.sha256()
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as reading, target.open("wb") as writing:
        while chunk := reading.read(CHUNK):
            digest.update(chunk)
            writing.write(chunk)
    shutil.copystat(source, target)  # the time it was kept
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as reading:
        while chunk := reading.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _safe(relative: str) -> bool:
    """A kept file's recorded path stays inside the evidence folder."""
    path = PurePosixPath(relative)
    return not path.is_absolute() and ".." not in path.parts and bool(path.parts)


def export(
    report: Report,
    *,
    kept_in: Path,
    folder: Path,
    languages: Sequence[str],
    timezone: str,
) -> Archive:
    """Writes the archive into `folder`, which must be new or empty (an earlier archive is
    never mixed with this one)."""
    archive = Archive(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        archive.problems.append(f"{folder}: exists and is not an empty folder")
        return archive
    folder.mkdir(parents=True, exist_ok=True)
    ref = report.incident.ref
    paths: dict[int, str] = {}
    sums: dict[str, str] = {}
    for kept in report.files:
        if kept.status is not KeepStatus.KEPT or not kept.path:
            continue
        if not _safe(kept.path):
            archive.problems.append(f"#{ref} item {kept.item.id}: unsafe path {kept.path!r}")
            continue
        relative = f"{FILES}/{kept.path}"
        source = kept_in / kept.path
        try:
            digest = _copy(source, folder / relative)
        except OSError as error:
            archive.problems.append(f"{source}: not copied ({error.strerror or error})")
            continue
        if kept.sha256 and digest != kept.sha256:
            archive.problems.append(
                f"{relative}: SHA-256 {digest} differs from {kept.sha256}, recorded when it "
                "was kept: the file changed since"
            )
        paths[kept.item.id] = relative
        sums[relative] = digest
        archive.originals += 1
    stem = f"passerelle-{ref}-report"
    for name, text in (
        (f"{stem}.html", render_report(report, tuple(languages), timezone)),
        (f"{stem}.json", to_json(report, paths) + "\n"),
    ):
        (folder / name).write_text(text, encoding="utf-8")
        sums[name] = _sha256(folder / name)
    listing = "".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items()))
    (folder / "SHA256SUMS").write_text(listing, encoding="utf-8")
    archive.written = [*sorted(sums), "SHA256SUMS"]
    return archive
