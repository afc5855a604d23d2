"""Submitted files: type decided from the content (never the name), refusal reasons, and a content-addressed store."""

from __future__ import annotations

import asyncio
import codecs
import csv
import hashlib
import io
import os
import re
import statistics
import tempfile
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

_MIB = 1024 * 1024


class FileKind(StrEnum):
    """A file type accepted for submitted documents."""

    PDF = "pdf"
    ODT = "odt"
    ODS = "ods"
    ODP = "odp"
    DOCX = "docx"
    XLSX = "xlsx"
    PPTX = "pptx"
    CSV = "csv"

    @property
    def mime_type(self) -> str:
        """The MIME type to store and serve the file with."""
        return _MIME_TYPES[self]

    @property
    def extension(self) -> str:
        """The canonical file name extension, dot included (".pdf")."""
        return f".{self.value}"


_MIME_TYPES: dict[FileKind, str] = {
    FileKind.PDF: "application/pdf",
    FileKind.ODT: "application/vnd.oasis.opendocument.text",
    FileKind.ODS: "application/vnd.oasis.opendocument.spreadsheet",
    FileKind.ODP: "application/vnd.oasis.opendocument.presentation",
    FileKind.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    FileKind.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    FileKind.PPTX: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    FileKind.CSV: "text/csv",
}

# What an accepted kind looks like, in the words used for `FileRefused.detected` (encrypted or damaged copies).
_LABELS: dict[FileKind, str] = {
    FileKind.PDF: "document PDF",
    FileKind.ODT: "document OpenDocument texte",
    FileKind.ODS: "classeur OpenDocument",
    FileKind.ODP: "présentation OpenDocument",
    FileKind.DOCX: "document Word",
    FileKind.XLSX: "classeur Excel",
    FileKind.PPTX: "présentation PowerPoint",
    FileKind.CSV: "tableau CSV",
}


class Refusal(StrEnum):
    """Why a submitted file is refused; the caller turns it into a translated message."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    EXECUTABLE = "executable"
    ENCRYPTED_OR_CORRUPT = "encrypted_or_corrupt"
    UNSUPPORTED = "unsupported"


class FileRefused(Exception):
    """A submitted file that is not accepted, with what it appears to be (in French) when that is known."""

    def __init__(self, reason: Refusal, detected: str | None = None, *, limit_mb: float | None = None) -> None:
        self.reason = reason
        self.detected = detected
        # Set only for TOO_LARGE; an int when the limit is a whole number of MiB, so it prints as "20" not "20.0".
        self.limit_mb = limit_mb
        details = [f"detected={detected!r}"] if detected else []
        if limit_mb is not None:
            details.append(f"limit_mb={limit_mb}")
        super().__init__(f"file refused: {reason.value}" + (f" ({', '.join(details)})" if details else ""))


# --- identification ---------------------------------------------------------------------------------------------

# Checked at offset 0 before anything else: whatever else the bytes may also parse as, these run code.
_EXECUTABLE_MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "exécutable Windows"),
    (b"\x7fELF", "exécutable Linux"),
    (b"\xfe\xed\xfa\xce", "exécutable macOS"),
    (b"\xfe\xed\xfa\xcf", "exécutable macOS"),
    (b"\xce\xfa\xed\xfe", "exécutable macOS"),
    (b"\xcf\xfa\xed\xfe", "exécutable macOS"),
    # Universal (fat) Mach-O binaries; Java class files share this magic and are programs too.
    (b"\xca\xfe\xba\xbe", "exécutable macOS"),
    (b"#!", "script exécutable"),
    (b"L\x00\x00\x00\x01\x14\x02\x00", "raccourci Windows"),
    (b"dex\n", "application Android"),
)

_OTHER_MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image PNG"),
    (b"\xff\xd8\xff", "image JPEG"),
    (b"GIF87a", "image GIF"),
    (b"GIF89a", "image GIF"),
    (b"II*\x00", "image TIFF"),
    (b"MM\x00*", "image TIFF"),
    (b"Rar!\x1a\x07", "archive RAR"),
    (b"7z\xbc\xaf\x27\x1c", "archive 7-Zip"),
    (b"\x1f\x8b", "archive gzip"),
    (b"\xfd7zXZ\x00", "archive xz"),
    (b"\x28\xb5\x2f\xfd", "archive zstd"),
    (b"ID3", "fichier audio MP3"),
    (b"OggS", "fichier audio ou vidéo Ogg"),
    (b"fLaC", "fichier audio FLAC"),
    (b"\x1aE\xdf\xa3", "vidéo Matroska/WebM"),
)

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Stream names of the OLE2 directory (UTF-16LE) that tell the legacy Office formats apart. Password-protected
# DOCX/XLSX/PPTX are OLE2 files too, holding an "EncryptedPackage" stream, so that name is looked for first.
_OLE2_STREAMS: tuple[tuple[str, Refusal, str], ...] = (
    ("EncryptedPackage", Refusal.ENCRYPTED_OR_CORRUPT, "document Office protégé par mot de passe"),
    ("WordDocument", Refusal.UNSUPPORTED, "document Word 97-2003"),
    ("Workbook", Refusal.UNSUPPORTED, "classeur Excel 97-2003"),
    ("PowerPoint Document", Refusal.UNSUPPORTED, "présentation PowerPoint 97-2003"),
)

_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")

# The PDF specification lets readers find the header anywhere in the first 1024 bytes (after a BOM, blank lines,
# or a mail header left by a gateway); executables and other magics are ruled out at offset 0 before this check.
_PDF_HEADER = re.compile(rb"%PDF-\d")
_PDF_HEADER_WINDOW = 1024

# Small package entries are read at most this far, so a zip bomb never gets decompressed.
_ODF_MIMETYPE_CAP = 256
_PACKAGE_XML_CAP = 2 * _MIB

_ODF_KINDS: dict[str, FileKind] = {
    "application/vnd.oasis.opendocument.text": FileKind.ODT,
    "application/vnd.oasis.opendocument.spreadsheet": FileKind.ODS,
    "application/vnd.oasis.opendocument.presentation": FileKind.ODP,
}
_ODF_OTHERS: dict[str, str] = {
    "application/vnd.oasis.opendocument.graphics": "dessin OpenDocument",
    "application/vnd.oasis.opendocument.formula": "formule OpenDocument",
    "application/vnd.oasis.opendocument.text-master": "document maître OpenDocument",
    "application/vnd.oasis.opendocument.base": "base de données OpenDocument",
    "application/epub+zip": "livre numérique EPUB",
}

_OOXML_KINDS: dict[str, FileKind] = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": FileKind.DOCX,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": FileKind.XLSX,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": FileKind.PPTX,
}
# Used only when [Content_Types].xml names no main part: the part names every Office version writes.
_OOXML_MAIN_PARTS: dict[str, FileKind] = {
    "word/document.xml": FileKind.DOCX,
    "xl/workbook.xml": FileKind.XLSX,
    "ppt/presentation.xml": FileKind.PPTX,
}
_OOXML_FAMILIES: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("wordprocessingml", "ms-word"), "document Word", "modèle Word"),
    (("spreadsheetml", "ms-excel"), "classeur Excel", "modèle Excel"),
    (("presentationml", "ms-powerpoint"), "présentation PowerPoint", "modèle PowerPoint"),
)
_OVERRIDE = re.compile(r"<(?:\w+:)?Override\b[^>]*>", re.IGNORECASE)
_PART_NAME = re.compile(r"""\bPartName\s*=\s*["']([^"']*)["']""")
_CONTENT_TYPE = re.compile(r"""\bContentType\s*=\s*["']([^"']*)["']""")

# Errors zipfile and zlib raise on damaged, truncated, encrypted or exotic archives.
# RuntimeError covers zipfile's errors for an unsupported compression method or an encrypted member.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, RuntimeError, EOFError, OSError, ValueError)


def identify(data: bytes, name: str, max_bytes: int) -> FileKind:
    """The accepted type of `data`, decided from its content; `name` only refines what a refusal says it looks like.

    Raises FileRefused: TOO_LARGE (checked first), EMPTY, EXECUTABLE, ENCRYPTED_OR_CORRUPT or UNSUPPORTED.
    """
    if len(data) > max_bytes:
        raise FileRefused(Refusal.TOO_LARGE, limit_mb=_megabytes(max_bytes))
    if not data:
        raise FileRefused(Refusal.EMPTY)
    for magic, detected in _EXECUTABLE_MAGICS:
        if data.startswith(magic):
            raise FileRefused(Refusal.EXECUTABLE, detected)
    if data.startswith(_ZIP_MAGICS):
        return _identify_zip(data, name)
    if data.startswith(_OLE2_MAGIC):
        _refuse_ole2(data)
    for magic, detected in _OTHER_MAGICS:
        if data.startswith(magic):
            raise FileRefused(Refusal.UNSUPPORTED, detected)
    _refuse_other_containers(data)
    if _PDF_HEADER.search(data, 0, _PDF_HEADER_WINDOW + 6):
        return FileKind.PDF
    return _identify_text(data)


def _megabytes(size: int) -> float:
    value = round(size / _MIB, 1)
    return int(value) if value.is_integer() else value


def _refuse_ole2(data: bytes) -> None:
    for stream, reason, detected in _OLE2_STREAMS:
        if stream.encode("utf-16-le") in data:
            raise FileRefused(reason, detected)
    raise FileRefused(Refusal.UNSUPPORTED, "document Office 97-2003")


def _refuse_other_containers(data: bytes) -> None:
    """Formats recognised by a magic that is not at offset 0 or needs a second look."""
    head = data[:16]
    if head.startswith(b"RIFF") and len(head) >= 12:
        riff = {b"WEBP": "image WebP", b"WAVE": "fichier audio WAV", b"AVI ": "vidéo AVI"}
        raise FileRefused(Refusal.UNSUPPORTED, riff.get(head[8:12], "fichier multimédia"))
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"avif"):
            raise FileRefused(Refusal.UNSUPPORTED, "image HEIC/AVIF")
        raise FileRefused(Refusal.UNSUPPORTED, "fichier audio ou vidéo MP4")
    # "BM" alone is too common at the start of text; the reserved header bytes of a bitmap are zero.
    if head.startswith(b"BM") and len(head) >= 10 and head[6:10] == b"\x00\x00\x00\x00":
        raise FileRefused(Refusal.UNSUPPORTED, "image BMP")
    if re.match(rb"BZh[1-9]1AY&SY", head):
        raise FileRefused(Refusal.UNSUPPORTED, "archive bzip2")
    if data[257:262] == b"ustar":
        raise FileRefused(Refusal.UNSUPPORTED, "archive TAR")


def _kind_from_name(name: str) -> FileKind | None:
    try:
        return FileKind(Path(name).suffix.lower().lstrip("."))
    except ValueError:
        return None


def _identify_zip(data: bytes, name: str) -> FileKind:
    # A damaged archive is described by the type its name claims, which is what the person thinks they sent.
    claimed = _kind_from_name(name)
    damaged = _LABELS[claimed] if claimed is not None and claimed not in (FileKind.PDF, FileKind.CSV) else "archive ZIP"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return _identify_package(archive)
    except _ZIP_ERRORS as error:
        raise FileRefused(Refusal.ENCRYPTED_OR_CORRUPT, damaged) from error


def _identify_package(archive: zipfile.ZipFile) -> FileKind:
    # OPC part names are case-insensitive; ODF ones are not, but no real ODF file plays on case.
    entries = {info.filename.lower(): info for info in reversed(archive.infolist())}
    if "mimetype" in entries:
        odf = _identify_odf(archive, entries)
        if odf is not None:
            return odf
    if "[content_types].xml" in entries:
        return _identify_ooxml(archive, entries)
    if "meta-inf/manifest.mf" in entries and any(entry.endswith(".class") for entry in entries):
        raise FileRefused(Refusal.EXECUTABLE, "application Java")
    if "classes.dex" in entries and "androidmanifest.xml" in entries:
        raise FileRefused(Refusal.EXECUTABLE, "application Android")
    raise FileRefused(Refusal.UNSUPPORTED, "archive ZIP")


def _read_small(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, label: str) -> bytes | None:
    """The entry's bytes, or None when it is larger than `cap`; only cap + 1 bytes are ever decompressed."""
    if info.flag_bits & 0x1:
        raise FileRefused(Refusal.ENCRYPTED_OR_CORRUPT, label)
    if info.file_size > cap:
        return None
    with archive.open(info) as member:
        # The size in the directory may lie (zip bombs do); the read itself is what is bounded.
        content = member.read(cap + 1)
    return content if len(content) <= cap else None


def _identify_odf(archive: zipfile.ZipFile, entries: dict[str, zipfile.ZipInfo]) -> FileKind | None:
    # The specification wants "mimetype" first and stored; readers open files that break either rule, and the
    # content of the entry is what decides, so neither is required here.
    raw = _read_small(archive, entries["mimetype"], _ODF_MIMETYPE_CAP, "document OpenDocument")
    if raw is None:
        return None
    mimetype = raw.decode("ascii", errors="replace").strip()
    kind = _ODF_KINDS.get(mimetype)
    if kind is None:
        if mimetype in _ODF_OTHERS:
            raise FileRefused(Refusal.UNSUPPORTED, _ODF_OTHERS[mimetype])
        if mimetype.startswith("application/vnd.oasis.opendocument."):
            detected = "modèle OpenDocument" if mimetype.endswith("-template") else "document OpenDocument"
            raise FileRefused(Refusal.UNSUPPORTED, detected)
        return None
    label = _LABELS[kind]
    if "content.xml" not in entries:
        raise FileRefused(Refusal.ENCRYPTED_OR_CORRUPT, label)
    manifest_info = entries.get("meta-inf/manifest.xml")
    if manifest_info is not None:
        manifest = _read_small(archive, manifest_info, _PACKAGE_XML_CAP, label)
        # Password-protected ODF files keep a readable zip but list how each part is encrypted in the manifest.
        if manifest is None or b"encryption-data" in manifest:
            raise FileRefused(Refusal.ENCRYPTED_OR_CORRUPT, label)
    return kind


def _identify_ooxml(archive: zipfile.ZipFile, entries: dict[str, zipfile.ZipInfo]) -> FileKind:
    generic = "document Office Open XML"
    raw = _read_small(archive, entries["[content_types].xml"], _PACKAGE_XML_CAP, generic)
    if raw is None:
        raise FileRefused(Refusal.ENCRYPTED_OR_CORRUPT, generic)
    content_types = raw.decode("utf-8", errors="replace")
    kind: FileKind | None = None
    for override in _OVERRIDE.findall(content_types):
        part = _PART_NAME.search(override)
        content_type = _CONTENT_TYPE.search(override)
        if part is None or content_type is None:
            continue
        declared = content_type.group(1).strip()
        # The declared content type, not the part name, is what makes Office treat a file as macro-enabled.
        if declared in _OOXML_KINDS:
            kind = _OOXML_KINDS[declared]
        elif ".main" in declared.lower():
            raise FileRefused(Refusal.UNSUPPORTED, _describe_ooxml(declared))
        else:
            continue
        if part.group(1).lstrip("/").lower() not in entries:
            raise FileRefused(Refusal.ENCRYPTED_OR_CORRUPT, _LABELS[kind])
        break
    if kind is None:
        kind = next((found for path, found in _OOXML_MAIN_PARTS.items() if path in entries), None)
    if kind is None:
        raise FileRefused(Refusal.UNSUPPORTED, generic)
    # A macro project under a macro-free content type is still code someone would open.
    if any(entry.rsplit("/", 1)[-1] == "vbaproject.bin" for entry in entries):
        raise FileRefused(Refusal.UNSUPPORTED, f"{_LABELS[kind]} avec macros")
    return kind


def _describe_ooxml(content_type: str) -> str:
    lowered = content_type.lower()
    for markers, document, template in _OOXML_FAMILIES:
        if any(marker in lowered for marker in markers):
            if "slideshow" in lowered:
                base = "diaporama PowerPoint"
            elif "template" in lowered:
                base = template
            elif "binary" in lowered:
                base = f"{document} binaire"
            elif "addin" in lowered:
                base = "macro complémentaire Office"
            else:
                base = document
            return f"{base} avec macros" if "macroenabled" in lowered else base
    return "document Office Open XML"


# --- text and CSV -----------------------------------------------------------------------------------------------

# C0 controls other than tab, line feed, form feed and carriage return, DEL, and C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_MAX_CONTROL_SHARE = 0.01
_TEXT_SAMPLE = 64 * 1024
_MAX_SAMPLE_ROWS = 200
_DELIMITERS = (";", "\t", ",", "|")
# Share of rows that must have the most common number of cells; the rest are titles, totals or blank cells.
_MIN_CONSISTENT_SHARE = 0.8
# A one-column list (emails, names) has short lines; prose has at least one long one.
_SINGLE_COLUMN_MAX_WORDS = 8
_SINGLE_COLUMN_MAX_CHARS = 120
# Prose uses commas and semicolons as punctuation: spaced around, between clauses of several words.
_PROSE_MIN_SPACED_SHARE = 0.5
_PROSE_MIN_MEDIAN_WORDS = 3
_SENTENCE_END = (".", "!", "?", "…")


def _identify_text(data: bytes) -> FileKind:
    text = _decode_text(data)
    if text is None or len(_CONTROL.findall(text)) > _MAX_CONTROL_SHARE * len(text):
        raise FileRefused(Refusal.UNSUPPORTED, "fichier binaire")
    head = text[:1024].lstrip().lower()
    if head.startswith("{\\rtf"):
        raise FileRefused(Refusal.UNSUPPORTED, "document RTF")
    if head.startswith("<"):
        # Markup served back to a browser could run scripts; none of it is a table people meant to send.
        if "<svg" in head:
            raise FileRefused(Refusal.UNSUPPORTED, "image SVG")
        if "<html" in head or "<!doctype html" in head or not head.startswith("<?xml"):
            raise FileRefused(Refusal.UNSUPPORTED, "page HTML")
        raise FileRefused(Refusal.UNSUPPORTED, "fichier XML")
    if head.startswith("%!"):
        raise FileRefused(Refusal.UNSUPPORTED, "document PostScript")
    tail = text[-64:].rstrip()
    if (head.startswith("{") and tail.endswith("}")) or (head.startswith("[") and tail.endswith("]")):
        raise FileRefused(Refusal.UNSUPPORTED, "données JSON")
    if _looks_tabular(text):
        return FileKind.CSV
    raise FileRefused(Refusal.UNSUPPORTED, "texte")


def _decode_text(data: bytes) -> str | None:
    try:
        # Excel's "Texte Unicode" export is UTF-16 with a BOM, which the directory import reads too.
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16")
        if b"\x00" in data:
            return None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            # Older Excel versions on Windows save "CSV (séparateur : point-virgule)" in cp1252.
            return data.decode("cp1252")
    except UnicodeDecodeError:
        return None


def _looks_tabular(text: str) -> bool:
    sample = text[:_TEXT_SAMPLE]
    if len(text) > _TEXT_SAMPLE and "\n" in sample:
        # The cut line is partial; judging it would make a regular file look irregular.
        sample = sample[: sample.rindex("\n")]
    lines = [line for line in sample.splitlines() if line.strip()][:_MAX_SAMPLE_ROWS]
    if not lines:
        return False
    sample = "\n".join(lines)
    if any(_delimited(sample, delimiter) for delimiter in _DELIMITERS):
        return True
    return (
        len(lines) >= 2
        and all(len(line) <= _SINGLE_COLUMN_MAX_CHARS for line in lines)
        and all(len(line.split()) <= _SINGLE_COLUMN_MAX_WORDS for line in lines)
        and sum(line.rstrip().endswith(_SENTENCE_END) for line in lines) < len(lines) / 2
    )


def _delimited(sample: str, delimiter: str) -> bool:
    try:
        rows = [
            row for row in csv.reader(io.StringIO(sample), delimiter=delimiter) if any(cell.strip() for cell in row)
        ]
    except csv.Error:
        return False
    if not rows:
        return False
    width, count = Counter(len(row) for row in rows).most_common(1)[0]
    if width < 2:
        return False
    if len(rows) == 1:
        # A lone line with a comma is usually a sentence; a header alone needs a stronger sign.
        if delimiter == "," and width < 3:
            return False
    elif count < _MIN_CONSISTENT_SHARE * len(rows):
        return False
    if delimiter == "\t":
        return True
    occurrences = sample.count(delimiter)
    spaced = len(re.findall(rf"(?<= ){re.escape(delimiter)}|{re.escape(delimiter)}(?= )", sample))
    if spaced < _PROSE_MIN_SPACED_SHARE * occurrences:
        return True
    words = [len(cell.split()) for row in rows if len(row) == width for cell in row]
    return statistics.median_low(words) < _PROSE_MIN_MEDIAN_WORDS


# --- content-addressed store ------------------------------------------------------------------------------------

_SHA256 = re.compile(r"[0-9a-f]{64}")
_FILE_MODE = 0o640


@dataclass(frozen=True)
class StoredBlob:
    """A stored file: its SHA-256 (hex), its path relative to the store root, and its size in bytes."""

    sha256: str
    path: Path
    size: int


class FileStore:
    """Files kept under root/ab/cd/<sha256>: same content, same path, written once and atomically."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @staticmethod
    def relative_path(sha256: str) -> Path:
        """Where a blob lives under the root; two levels of fan-out keep directories small."""
        digest = sha256.lower()
        if not _SHA256.fullmatch(digest):
            # The digest becomes a path: anything but 64 hex digits could leave the store.
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return Path(digest[:2], digest[2:4], digest)

    def path_of(self, sha256: str) -> Path:
        """The blob's path on disk (under the root)."""
        return self.root / self.relative_path(sha256)

    def exists(self, sha256: str) -> bool:
        """Whether a blob with this digest is stored."""
        return self.path_of(sha256).is_file()

    def open(self, sha256: str) -> bytes:
        """The stored bytes; FileNotFoundError when the blob is not stored."""
        return self.path_of(sha256).read_bytes()

    def put(self, data: bytes) -> StoredBlob:
        """Store `data` unless the same content is already stored, and say where it is."""
        digest = hashlib.sha256(data).hexdigest()
        relative = self.relative_path(digest)
        target = self.root / relative
        blob = StoredBlob(sha256=digest, path=relative, size=len(data))
        if target.is_file():
            return blob
        target.parent.mkdir(parents=True, exist_ok=True)
        # A temporary file in the same directory, then a rename: readers never see a partial blob, and two
        # writers of the same content both end with the same complete file.
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                os.fchmod(handle.fileno(), _FILE_MODE)
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _fsync_directory(target.parent)
        return blob

    async def put_async(self, data: bytes) -> StoredBlob:
        """`put` in a worker thread: hashing and writing 20 MB would stall the event loop."""
        return await asyncio.to_thread(self.put, data)

    async def open_async(self, sha256: str) -> bytes:
        """`open` in a worker thread, for the same reason as `put_async`."""
        return await asyncio.to_thread(self.open, sha256)


def _fsync_directory(directory: Path) -> None:
    # The rename is only durable once the directory entry is on disk; not every platform can open a directory.
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
