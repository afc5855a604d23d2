"""Tests for submitted files: type from the content, refusal reasons, and the content-addressed store."""

from __future__ import annotations

import codecs
import hashlib
import io
import os
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.files import FileKind, FileRefused, FileStore, Refusal, StoredBlob, identify

MIB = 1024 * 1024
LIMIT = 20 * MIB

ODF_MIMETYPES = {
    FileKind.ODT: "application/vnd.oasis.opendocument.text",
    FileKind.ODS: "application/vnd.oasis.opendocument.spreadsheet",
    FileKind.ODP: "application/vnd.oasis.opendocument.presentation",
}
OOXML_MAIN = {
    FileKind.DOCX: (
        "word/document.xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    ),
    FileKind.XLSX: ("xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"),
    FileKind.PPTX: (
        "ppt/presentation.xml",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
    ),
}
FRENCH_CSV = (
    "Département;Nom;Fonction;Courriel\r\n"
    "Allier;Jean Dupont;Chargé d'études;jean.dupont@allier.fr\r\n"
    "Hérault;Élodie Bénard;Responsable de l'observatoire;e.benard@herault.fr\r\n"
    "Orne;Zoé Lefèvre;Secrétaire générale;zoe.lefevre@orne.fr\r\n"
)
PROSE = (
    "Madame, Monsieur,\n\n"
    "Veuillez trouver ci-joint le rapport annuel de l'observatoire départemental. Les chiffres de l'année "
    "montrent une hausse des informations préoccupantes, notamment chez les moins de six ans.\n\n"
    "Nous restons à votre disposition pour toute question.\n\n"
    "Cordialement,\n"
    "Jean Dupont\n"
)


def zip_bytes(*entries: tuple[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of the entries in this order; an entry named mimetype is stored, as ODF wants."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries:
            archive.writestr(name, content, zipfile.ZIP_STORED if name == "mimetype" else compression)
    return buffer.getvalue()


def odf_bytes(mimetype: str, manifest_extra: str = "", mimetype_first: bool = True) -> bytes:
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
        f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{mimetype}"/>'
        f'<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">{manifest_extra}'
        "</manifest:file-entry></manifest:manifest>"
    ).encode()
    content = (
        b'<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        b'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" office:version="1.3">'
        b"<office:body/></office:document-content>"
    )
    mimetype_entry = ("mimetype", mimetype.encode())
    rest = [("META-INF/manifest.xml", manifest), ("content.xml", content)]
    entries = [mimetype_entry, *rest] if mimetype_first else [*rest, mimetype_entry]
    return zip_bytes(*entries)


def content_types(main_part: str, main_type: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/{main_part}" ContentType="{main_type}"/>'
        "</Types>"
    ).encode()


def ooxml_bytes(kind: FileKind, main_type: str | None = None, *extra: tuple[str, bytes]) -> bytes:
    main_part, default_type = OOXML_MAIN[kind]
    rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Target="' + main_part + '" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>'
        "</Relationships>"
    ).encode()
    return zip_bytes(
        ("[Content_Types].xml", content_types(main_part, main_type or default_type)),
        ("_rels/.rels", rels),
        (main_part, b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><root/>'),
        *extra,
    )


def ole2_bytes(*stream_names: str) -> bytes:
    """An OLE2 compound file header followed by a directory sector naming the streams (UTF-16LE, 128-byte entries)."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(24) + b"\x3e\x00\x03\x00\xfe\xff\x09\x00" + bytes(476)
    directory = b"".join(name.encode("utf-16-le").ljust(128, b"\x00") for name in ("Root Entry", *stream_names))
    return header + directory.ljust(512, b"\x00")


def refusal(data: bytes, name: str = "document.pdf", max_bytes: int = LIMIT) -> FileRefused:
    with pytest.raises(FileRefused) as raised:
        identify(data, name, max_bytes)
    return raised.value


# --- FileKind -------------------------------------------------------------------------------------------------


def test_each_kind_has_its_mime_type_and_canonical_extension() -> None:
    assert FileKind.PDF.mime_type == "application/pdf"
    assert FileKind.ODT.mime_type == "application/vnd.oasis.opendocument.text"
    assert FileKind.ODS.mime_type == "application/vnd.oasis.opendocument.spreadsheet"
    assert FileKind.ODP.mime_type == "application/vnd.oasis.opendocument.presentation"
    assert FileKind.DOCX.mime_type == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert FileKind.XLSX.mime_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert FileKind.PPTX.mime_type == "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    assert FileKind.CSV.mime_type == "text/csv"
    assert [kind.extension for kind in FileKind] == [".pdf", ".odt", ".ods", ".odp", ".docx", ".xlsx", ".pptx", ".csv"]


# --- accepted types -------------------------------------------------------------------------------------------


def test_pdf_is_recognised_from_its_header() -> None:
    assert identify(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n", "rapport.pdf", LIMIT) == "pdf"


def test_pdf_header_is_found_after_leading_bytes_within_the_first_kilobyte() -> None:
    assert identify(codecs.BOM_UTF8 + b"\r\n  %PDF-1.4\n%%EOF\n", "rapport.pdf", LIMIT) is FileKind.PDF
    assert identify(b"x" * 1000 + b"%PDF-2.0\n%%EOF\n", "rapport.pdf", LIMIT) is FileKind.PDF


def test_pdf_header_beyond_the_first_kilobyte_does_not_make_a_pdf() -> None:
    assert refusal(b"\x01" * 2000 + b"%PDF-1.4\n").reason is Refusal.UNSUPPORTED


@pytest.mark.parametrize("kind", [FileKind.ODT, FileKind.ODS, FileKind.ODP])
def test_opendocument_files_are_recognised_from_their_mimetype_entry(kind: FileKind) -> None:
    assert identify(odf_bytes(ODF_MIMETYPES[kind]), "fichier.zip", LIMIT) is kind


def test_opendocument_mimetype_entry_decides_even_when_it_is_not_first() -> None:
    data = odf_bytes(ODF_MIMETYPES[FileKind.ODT], mimetype_first=False)
    assert identify(data, "fichier.odt", LIMIT) is FileKind.ODT


@pytest.mark.parametrize("kind", [FileKind.DOCX, FileKind.XLSX, FileKind.PPTX])
def test_office_open_xml_files_are_recognised_from_their_content_types(kind: FileKind) -> None:
    assert identify(ooxml_bytes(kind), "fichier.bin", LIMIT) is kind


def test_office_open_xml_without_a_declared_main_part_falls_back_on_the_part_name() -> None:
    data = zip_bytes(
        ("[Content_Types].xml", b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'),
        ("xl/workbook.xml", b"<workbook/>"),
    )
    assert identify(data, "classeur.xlsx", LIMIT) is FileKind.XLSX


@pytest.mark.parametrize("encoding", ["cp1252", "utf-8-sig", "utf-8", "utf-16"])
def test_french_semicolon_csv_is_recognised_in_the_encodings_excel_writes(encoding: str) -> None:
    assert identify(FRENCH_CSV.encode(encoding), "contacts.csv", LIMIT) is FileKind.CSV


def test_comma_and_tab_separated_tables_are_csv() -> None:
    comma = b'nom,email,telephone\nJean Dupont,jean@allier.fr,"04 70 34 15 30"\nZoe,zoe@orne.fr,\n'
    tab = b"nom\temail\nJean Dupont\tjean@allier.fr\n"
    assert identify(comma, "a.csv", LIMIT) is FileKind.CSV
    assert identify(tab, "b.csv", LIMIT) is FileKind.CSV


def test_a_one_column_list_is_csv() -> None:
    assert identify(b"jean@allier.fr\nzoe@orne.fr\ne.benard@herault.fr\n", "emails.csv", LIMIT) is FileKind.CSV


def test_the_name_never_decides_the_type() -> None:
    assert identify(FRENCH_CSV.encode("utf-8"), "programme.exe", LIMIT) is FileKind.CSV
    assert identify(ooxml_bytes(FileKind.DOCX), "rapport.pdf", LIMIT) is FileKind.DOCX


# --- refusals -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "detected"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(48) + b"%PDF-1.4", "exécutable Windows"),
        (b"\x7fELF\x02\x01\x01" + bytes(57), "exécutable Linux"),
        (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + bytes(24), "exécutable macOS"),
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x02" + bytes(24), "exécutable macOS"),
        (b"#!/bin/sh\nrm -rf ~\n", "script exécutable"),
    ],
)
def test_an_executable_renamed_pdf_is_refused_as_executable(data: bytes, detected: str) -> None:
    refused = refusal(data, "rapport.pdf")
    assert refused.reason is Refusal.EXECUTABLE
    assert refused.detected == detected


def test_a_java_archive_is_refused_as_executable() -> None:
    data = zip_bytes(("META-INF/MANIFEST.MF", b"Main-Class: App\n"), ("App.class", b"\xca\xfe\xba\xbe"))
    assert refusal(data, "rapport.docx").reason is Refusal.EXECUTABLE


def test_an_empty_file_is_refused_as_empty() -> None:
    refused = refusal(b"", "vide.pdf")
    assert refused.reason is Refusal.EMPTY
    assert refused.detected is None
    assert refused.limit_mb is None


def test_a_file_one_byte_over_the_limit_is_refused_with_the_limit_in_megabytes() -> None:
    data = b"%PDF-1.7\n" + bytes(LIMIT - 9)
    assert identify(data, "rapport.pdf", LIMIT) is FileKind.PDF
    refused = refusal(data + b"\n", "rapport.pdf")
    assert refused.reason is Refusal.TOO_LARGE
    assert refused.limit_mb == 20
    assert str(refused.limit_mb) == "20"


def test_size_is_checked_before_anything_else() -> None:
    refused = refusal(b"MZ" + bytes(100), "programme.exe", max_bytes=50)
    assert refused.reason is Refusal.TOO_LARGE
    assert refused.detected is None


def test_a_fractional_limit_is_reported_with_one_decimal() -> None:
    assert refusal(bytes(int(1.5 * MIB) + 1), max_bytes=int(1.5 * MIB)).limit_mb == 1.5


def test_a_png_named_pdf_is_refused_as_an_image() -> None:
    refused = refusal(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(17), "rapport.pdf")
    assert refused.reason is Refusal.UNSUPPORTED
    assert refused.detected == "image PNG"


@pytest.mark.parametrize(
    ("data", "detected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image JPEG"),
        (b"GIF89a\x01\x00\x01\x00", "image GIF"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image WebP"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "image HEIC/AVIF"),
        (b"Rar!\x1a\x07\x01\x00", "archive RAR"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04", "archive 7-Zip"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "archive gzip"),
        (b"<!DOCTYPE html>\n<html><body><script>alert(1)</script></body></html>\n", "page HTML"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>\n', "image SVG"),
        (b"{\\rtf1\\ansi Bonjour}", "document RTF"),
        (bytes(range(256)) * 4, "fichier binaire"),
    ],
)
def test_other_known_formats_are_refused_as_unsupported_with_what_they_look_like(data: bytes, detected: str) -> None:
    refused = refusal(data)
    assert refused.reason is Refusal.UNSUPPORTED
    assert refused.detected == detected


def test_a_legacy_word_document_is_refused_as_unsupported() -> None:
    refused = refusal(ole2_bytes("WordDocument", "1Table", "\x05SummaryInformation"), "rapport.doc")
    assert refused.reason is Refusal.UNSUPPORTED
    assert refused.detected == "document Word 97-2003"
    assert refusal(ole2_bytes("Workbook")).detected == "classeur Excel 97-2003"
    assert refusal(ole2_bytes()).detected == "document Office 97-2003"


def test_a_password_protected_office_document_is_refused_as_encrypted() -> None:
    refused = refusal(ole2_bytes("EncryptionInfo", "EncryptedPackage"), "rapport.docx")
    assert refused.reason is Refusal.ENCRYPTED_OR_CORRUPT


def test_a_zip_that_is_neither_opendocument_nor_office_open_xml_is_refused_as_a_zip() -> None:
    refused = refusal(zip_bytes(("rapport.pdf", b"%PDF-1.4\n"), ("notes.txt", b"bonjour")), "rapport.docx")
    assert refused.reason is Refusal.UNSUPPORTED
    assert refused.detected == "archive ZIP"


def test_a_truncated_zip_is_refused_as_corrupt_and_described_by_its_claimed_type() -> None:
    data = ooxml_bytes(FileKind.DOCX)
    refused = refusal(data[: len(data) // 2], "rapport.docx")
    assert refused.reason is Refusal.ENCRYPTED_OR_CORRUPT
    assert refused.detected == "document Word"
    assert refusal(data[: len(data) // 2], "rapport.zip").detected == "archive ZIP"


def test_a_zip_with_damaged_entry_data_is_refused_as_corrupt() -> None:
    data = bytearray(ooxml_bytes(FileKind.XLSX))
    # The deflated [Content_Types].xml starts right after the first local header (30 bytes + its name).
    start = 30 + len("[Content_Types].xml")
    data[start : start + 40] = bytes(40)
    assert refusal(bytes(data), "classeur.xlsx").reason is Refusal.ENCRYPTED_OR_CORRUPT


def test_an_opendocument_file_without_content_is_refused_as_corrupt() -> None:
    data = zip_bytes(("mimetype", ODF_MIMETYPES[FileKind.ODT].encode()), ("styles.xml", b"<styles/>"))
    assert refusal(data, "rapport.odt").reason is Refusal.ENCRYPTED_OR_CORRUPT


def test_a_password_protected_opendocument_file_is_refused_as_encrypted() -> None:
    data = odf_bytes(ODF_MIMETYPES[FileKind.ODS], manifest_extra="<manifest:encryption-data/>")
    refused = refusal(data, "tableau.ods")
    assert refused.reason is Refusal.ENCRYPTED_OR_CORRUPT
    assert refused.detected == "classeur OpenDocument"


def test_other_opendocument_types_are_unsupported() -> None:
    refused = refusal(odf_bytes("application/vnd.oasis.opendocument.graphics"), "dessin.odt")
    assert refused.reason is Refusal.UNSUPPORTED
    assert refused.detected == "dessin OpenDocument"


def test_macro_enabled_office_files_are_unsupported_even_when_named_docx() -> None:
    docm = ooxml_bytes(FileKind.DOCX, "application/vnd.ms-word.document.macroEnabled.main+xml")
    refused = refusal(docm, "rapport.docx")
    assert refused.reason is Refusal.UNSUPPORTED
    assert refused.detected == "document Word avec macros"
    hidden = ooxml_bytes(FileKind.XLSX, None, ("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0"))
    assert refusal(hidden, "classeur.xlsx").detected == "classeur Excel avec macros"


def test_office_templates_are_unsupported() -> None:
    dotx = ooxml_bytes(
        FileKind.DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml"
    )
    assert refusal(dotx).detected == "modèle Word"


def test_a_zip_bomb_entry_is_never_decompressed_whole() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("[Content_Types].xml", "w", force_zip64=True) as member:
            for _ in range(64):
                member.write(bytes(MIB))
        archive.writestr("word/document.xml", b"<document/>")
    refused = refusal(buffer.getvalue(), "rapport.docx")
    assert refused.reason is Refusal.ENCRYPTED_OR_CORRUPT


def test_a_large_entry_that_is_not_needed_is_left_alone() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", content_types(*OOXML_MAIN[FileKind.PPTX]))
        archive.writestr("ppt/presentation.xml", b"<presentation/>")
        with archive.open("ppt/media/video.bin", "w", force_zip64=True) as member:
            for _ in range(64):
                member.write(bytes(MIB))
    assert identify(buffer.getvalue(), "diapos.pptx", LIMIT) is FileKind.PPTX


@pytest.mark.parametrize(
    "text",
    [
        PROSE,
        "Bonjour, voici le rapport demandé.",
        "Le rapport est prêt, il sera envoyé demain matin.\nMerci pour votre aide précieuse, à très bientôt.\n",
    ],
)
def test_prose_text_is_refused_as_unsupported_text(text: str) -> None:
    refused = refusal(text.encode("utf-8"), "rapport.csv")
    assert refused.reason is Refusal.UNSUPPORTED
    assert refused.detected == "texte"


def test_failures_carry_a_readable_message_for_logs() -> None:
    assert str(FileRefused(Refusal.TOO_LARGE, limit_mb=20)) == "file refused: too_large (limit_mb=20)"
    assert "image PNG" in str(FileRefused(Refusal.UNSUPPORTED, "image PNG"))


# --- store ----------------------------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "files")


@pytest.fixture
def strict_umask() -> Iterator[None]:
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def test_put_stores_content_under_a_two_level_fan_out_named_by_its_sha256(store: FileStore) -> None:
    data = b"%PDF-1.7\nrapport\n"
    digest = hashlib.sha256(data).hexdigest()
    blob = store.put(data)
    assert blob == StoredBlob(sha256=digest, path=Path(digest[:2], digest[2:4], digest), size=len(data))
    assert store.path_of(digest) == store.root / blob.path
    assert store.path_of(digest).is_file()
    assert store.exists(digest)


def test_content_is_read_back_byte_for_byte(store: FileStore) -> None:
    data = bytes(range(256)) * 1000
    blob = store.put(data)
    assert store.open(blob.sha256) == data
    assert store.open(blob.sha256.upper()) == data


def test_same_content_gives_the_same_path_and_is_written_once(
    store: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = store.put(b"contenu")
    replaced: list[str] = []
    real_replace = os.replace

    def counting_replace(source: str, target: Path) -> None:
        replaced.append(str(target))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", counting_replace)
    second = store.put(b"contenu")
    assert second == first
    assert replaced == []
    store.put(b"autre contenu")
    assert len(replaced) == 1


def test_stored_files_are_readable_by_the_group_only_whatever_the_umask(store: FileStore, strict_umask: None) -> None:
    blob = store.put(b"contenu")
    assert stat.S_IMODE(store.path_of(blob.sha256).stat().st_mode) == 0o640


def test_no_temporary_file_is_left_behind(store: FileStore) -> None:
    blob = store.put(b"contenu")
    assert [path.name for path in store.path_of(blob.sha256).parent.iterdir()] == [blob.sha256]


def test_a_failed_write_leaves_neither_the_blob_nor_a_temporary_file(
    store: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_replace(source: str, target: Path) -> None:
        raise OSError("disque plein")

    monkeypatch.setattr(os, "replace", failing_replace)
    digest = hashlib.sha256(b"contenu").hexdigest()
    with pytest.raises(OSError, match="disque plein"):
        store.put(b"contenu")
    assert not store.exists(digest)
    assert list(store.path_of(digest).parent.iterdir()) == []


def test_a_missing_blob_cannot_be_opened(store: FileStore) -> None:
    digest = hashlib.sha256(b"absent").hexdigest()
    assert not store.exists(digest)
    with pytest.raises(FileNotFoundError):
        store.open(digest)


@pytest.mark.parametrize("digest", ["../../etc/passwd", "ab", "g" * 64, "a" * 63 + "/"])
def test_anything_but_a_sha256_digest_is_rejected_before_touching_the_disk(store: FileStore, digest: str) -> None:
    with pytest.raises(ValueError):
        store.path_of(digest)
    with pytest.raises(ValueError):
        store.exists(digest)


async def test_put_async_stores_in_a_worker_thread(store: FileStore) -> None:
    data = b"%PDF-1.7\n" + bytes(MIB)
    blob = await store.put_async(data)
    assert blob.size == len(data)
    assert await store.open_async(blob.sha256) == data
