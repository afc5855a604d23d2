"""Tests for parsing and validating the ODPE directory CSV import."""

from __future__ import annotations

import codecs

import pytest

from storage.contacts_csv import ContactRow, RowError, parse_contacts, validate_email, validate_phone

HEADER = "departement,nom,fonction,email,telephone,structure,adresse\n"


def csv_bytes(text: str, encoding: str = "utf-8") -> bytes:
    return text.encode(encoding)


def test_valid_comma_file_gives_normalized_rows() -> None:
    result = parse_contacts(
        csv_bytes(HEADER + "3,Jean Dupont,Chargé d'études,jean.dupont@allier.fr,0470341530,CD 03,\n")
    )
    assert result.errors == []
    assert result.ok
    assert result.rows == [
        ContactRow(
            department="03",
            name="Jean Dupont",
            role="Chargé d'études",
            email="jean.dupont@allier.fr",
            phone="04 70 34 15 30",
            organisation="CD 03",
            address=None,
        )
    ]


def test_semicolon_excel_export_with_bom_is_read() -> None:
    text = "Département;Nom;Téléphone\r\nAllier;Marie Martin;04.70.34.15.30\r\n"
    result = parse_contacts(codecs.BOM_UTF8 + csv_bytes(text))
    assert result.errors == []
    assert result.rows == [ContactRow(department="03", name="Marie Martin", phone="04 70 34 15 30")]


def test_cp1252_file_is_decoded() -> None:
    # The curly apostrophe and œ exist in cp1252 but not in latin-1, so a wrong fallback would show.
    text = "département;nom;fonction\r\nCôtes-d'Armor;Loïc Le Bœuf;Chargé d’études\r\n"
    result = parse_contacts(csv_bytes(text, "cp1252"))
    assert result.errors == []
    assert result.rows == [ContactRow(department="22", name="Loïc Le Bœuf", role="Chargé d’études")]


def test_header_names_ignore_case_accents_order_and_accept_english_aliases() -> None:
    text = "Phone,NAME,Organization,E-mail,Department,Role,Address\n+33 4 70 34 15 30,Ann,ONPE,ann@onpe.fr,2b,Lead,\n"
    result = parse_contacts(csv_bytes(text))
    assert result.errors == []
    assert result.rows == [
        ContactRow(
            department="2B",
            name="Ann",
            role="Lead",
            email="ann@onpe.fr",
            phone="+33 4 70 34 15 30",
            organisation="ONPE",
        )
    ]


def test_department_by_exact_name_ignoring_accents() -> None:
    result = parse_contacts(csv_bytes("departement,nom\ncotes d'armor,A\nPUY-DE-DOME,B\n"))
    assert [row.department for row in result.rows] == ["22", "63"]


def test_multiline_quoted_address_is_kept_and_line_numbers_follow_spreadsheet_rows() -> None:
    text = (
        "departement;nom;adresse;email\r\n"
        '03;A;"1 rue de Paris\r\n03000 Moulins";a@allier.fr\r\n'
        "03;B;;pas-une-adresse\r\n"
    )
    result = parse_contacts(csv_bytes(text))
    assert result.rows[0].address == "1 rue de Paris\n03000 Moulins"
    # Physical line 4, but spreadsheet row 3: the address cell spans two lines inside quotes.
    assert [(e.line, e.column) for e in result.errors] == [(3, "email")]


def test_import_reports_every_bad_line_with_its_number() -> None:
    text = (
        HEADER
        + "03,Bon Contact,,bon@allier.fr,,,\n"
        + "03,Mauvais Courriel,,jean.dupont@,,,\n"
        + "Alier,Mauvais Département,,,,,\n"
        + "03,,,,,,\n"
        + "03,Mauvais Téléphone,,,04 70 AB,,\n"
    )
    result = parse_contacts(csv_bytes(text))
    assert [(e.line, e.column) for e in result.errors] == [
        (3, "email"),
        (4, "departement"),
        (5, "nom"),
        (6, "telephone"),
    ]
    assert [row.name for row in result.rows] == ["Bon Contact"]
    assert not result.ok


def test_one_line_with_several_problems_reports_each_of_them() -> None:
    result = parse_contacts(csv_bytes("departement,nom,email,telephone\n99,,x@,12\n"))
    assert [e.column for e in result.errors] == ["departement", "nom", "email", "telephone"]
    assert {e.line for e in result.errors} == {2}


def test_error_message_is_readable_french_with_line_and_column() -> None:
    result = parse_contacts(
        csv_bytes("departement,nom,email\n03,A,ok@allier.fr\n03,B,ok@allier.fr\n03,C,jean.dupont@\n")
    )
    assert str(result.errors[0]) == (
        "ligne 4, colonne email : « jean.dupont@ » n'est pas une adresse électronique valide"
    )


def test_error_column_uses_the_header_as_written_in_the_file() -> None:
    result = parse_contacts(csv_bytes("Département;Nom;Courriel\n03;A;faux\n"))
    assert result.errors[0].column == "Courriel"


def test_unknown_department_suggests_the_closest_one() -> None:
    result = parse_contacts(csv_bytes("departement,nom\nAlier,A\n"))
    assert result.errors == [
        RowError(2, "departement", "« Alier » : département inconnu (vouliez-vous dire Allier, 03 ?)")
    ]


def test_former_corsican_code_suggests_both_halves() -> None:
    result = parse_contacts(csv_bytes("departement,nom\n20,A\n"))
    assert "Corse-du-Sud, 2A ou Haute-Corse, 2B" in result.errors[0].message


def test_unknown_header_columns_are_named_in_one_error_listing_accepted_ones() -> None:
    result = parse_contacts(csv_bytes("departement,nom,prenom,service\n03,Dupont,Jean,ASE\n"))
    header_errors = [e for e in result.errors if e.line == 1]
    assert len(header_errors) == 1
    message = header_errors[0].message
    assert "« prenom »" in message and "« service »" in message
    assert "departement, nom, fonction, email, telephone, structure, adresse" in message


def test_rows_are_still_checked_when_the_header_has_unknown_columns() -> None:
    result = parse_contacts(csv_bytes("departement,nom,service,email\n03,Dupont,ASE,faux\n"))
    assert [(e.line, e.column) for e in result.errors] == [(1, None), (2, "email")]


def test_missing_required_header_is_reported() -> None:
    result = parse_contacts(csv_bytes("nom,email\nDupont,a@b.fr\n"))
    assert len(result.errors) == 1
    assert result.errors[0].line == 1
    assert "« departement »" in result.errors[0].message
    assert result.rows == []


def test_duplicate_header_column_is_reported() -> None:
    result = parse_contacts(csv_bytes("departement,nom,email,courriel\n03,A,a@b.fr,a@b.fr\n"))
    assert result.errors[0].line == 1
    assert "deux fois" in result.errors[0].message


@pytest.mark.parametrize("data", [b"", b"   \n\n", codecs.BOM_UTF8, b";;;\r\n;;;\r\n"])
def test_empty_file_is_an_error(data: bytes) -> None:
    result = parse_contacts(data)
    assert result.errors == [RowError(1, None, "le fichier est vide")]


def test_header_without_contacts_is_an_error() -> None:
    result = parse_contacts(csv_bytes(HEADER))
    assert len(result.errors) == 1
    assert "aucun contact" in result.errors[0].message


def test_blank_rows_and_trailing_empty_excel_columns_are_ignored() -> None:
    text = "departement;nom;;\r\n03;A;;\r\n;;;\r\n\r\n74;B;;\r\n"
    result = parse_contacts(csv_bytes(text))
    assert result.errors == []
    assert [row.department for row in result.rows] == ["03", "74"]


def test_values_beyond_the_header_are_reported() -> None:
    result = parse_contacts(csv_bytes("departement;nom;adresse\n03;A;1 rue X;03000 Moulins\n"))
    assert [(e.line, e.column) for e in result.errors] == [(2, None)]


def test_same_contact_twice_in_a_department_is_reported() -> None:
    result = parse_contacts(csv_bytes("departement,nom\n03,Jean Dupont\n3,JEAN DUPONT\n74,Jean Dupont\n"))
    assert [(e.line, e.column) for e in result.errors] == [(3, "nom")]
    assert "ligne 2" in result.errors[0].message
    assert [row.department for row in result.rows] == ["03", "74"]


def test_utf16_excel_unicode_text_export_is_read() -> None:
    text = "departement\tnom\r\n03\tA\r\n"
    result = parse_contacts(text.encode("utf-16"))
    assert result.errors == []
    assert result.rows == [ContactRow(department="03", name="A")]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("04 70 34 15 30", "04 70 34 15 30"),
        ("0470341530", "04 70 34 15 30"),
        ("04.70.34.15.30", "04 70 34 15 30"),
        ("04-70-34-15-30", "04 70 34 15 30"),
        ("04\u00a070\u00a034\u00a015\u00a030", "04 70 34 15 30"),
        ("+33 4 70 34 15 30", "+33 4 70 34 15 30"),
        ("+33470341530", "+33 4 70 34 15 30"),
        ("+33 (0)4 70 34 15 30", "+33 4 70 34 15 30"),
        ("0033 4 70 34 15 30", "+33 4 70 34 15 30"),
        ("02 62 12 34 56", "02 62 12 34 56"),
        ("+262 262 12 34 56", "+262 262 12 34 56"),
        ("+590590123456", "+590 590 12 34 56"),
        ("+594 594 12 34 56", "+594 594 12 34 56"),
        ("+596 596 12 34 56", "+596 596 12 34 56"),
        ("+269 639 12 34 56", "+269 639 12 34 56"),
    ],
)
def test_validate_phone_normalizes_french_numbers(raw: str, expected: str) -> None:
    assert validate_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("04 70 AB 15 30", "lettres"),
        ("tel. 0470341530", "lettres"),
        ("0470", "trop court"),
        ("04 70 34 15 30 12", "trop long"),
        ("+33 4 70", "trop court"),
        ("+32 2 123 45 67", "numéros français"),
        ("04 70 34 15 30 #1", "chiffres"),
    ],
)
def test_validate_phone_rejects_with_french_reason(raw: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as caught:
        validate_phone(raw)
    assert f"« {raw} »" in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("jean.dupont@allier.fr", "jean.dupont@allier.fr"),
        ("  Jean.Dupont@Allier.FR ", "Jean.Dupont@allier.fr"),
        ("odpe+annuaire@cd-22.fr", "odpe+annuaire@cd-22.fr"),
    ],
)
def test_validate_email_accepts_and_trims_addresses(raw: str, expected: str) -> None:
    assert validate_email(raw) == expected


@pytest.mark.parametrize(
    "raw", ["jean.dupont@", "@allier.fr", "jean dupont@allier.fr", "a@allier", "a..b@x.fr", "a@b@c.fr"]
)
def test_validate_email_rejects_malformed_addresses(raw: str) -> None:
    with pytest.raises(ValueError, match="n'est pas une adresse électronique valide"):
        validate_email(raw)


def test_unclosed_quote_swallowing_the_file_is_reported_at_its_line() -> None:
    data = csv_bytes('departement,nom,adresse\n03,A,ok\n03,B,"' + "x" * 200_000 + "\n")
    result = parse_contacts(data)
    assert len(result.errors) == 1
    assert result.errors[0].line == 3
    assert "guillemet" in result.errors[0].message
