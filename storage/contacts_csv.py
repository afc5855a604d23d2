"""Parsing and validation of ODPE directory contacts imported from a CSV file (Excel exports included)."""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field

from storage import departments
from storage.departments import Department
from storage.normalize import fold

# Canonical field -> header spellings accepted once folded (accents, case, spaces and punctuation ignored).
_HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "department": ("departement", "department", "dept", "codedepartement"),
    "name": ("nom", "name"),
    "role": ("fonction", "role"),
    "email": ("email", "courriel", "mail", "adresseelectronique"),
    "phone": ("telephone", "phone", "tel"),
    "organisation": ("structure", "organisation", "organization"),
    "address": ("adresse", "address"),
}
# Names shown to users, as documented for the import command.
_DISPLAY_NAMES: dict[str, str] = {
    "department": "departement",
    "name": "nom",
    "role": "fonction",
    "email": "email",
    "phone": "telephone",
    "organisation": "structure",
    "address": "adresse",
}
_ENGLISH_NAMES = ("department", "name", "role", "email", "phone", "organisation", "address")
_REQUIRED = ("department", "name")
_DELIMITERS = (";", ",", "\t")
# Beyond this many partial matches the hint stops being readable in a chat message.
_MAX_HINTS = 5

_EMAIL = re.compile(
    r"(?P<local>[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)
# Separators people type inside phone numbers, including the no-break spaces Excel and Word insert.
_PHONE_SEPARATORS = re.compile(r"[\s\u00a0\u202f.\-/()]")
# Overseas départements have their own country codes: Réunion/Mayotte, Guadeloupe, Guyane, Martinique,
# and the former Mayotte code still found in old directories.
_OVERSEAS_CODES = ("262", "590", "594", "596", "269")
_PHONE_EXAMPLE = "par ex. 04 70 34 15 30 ou +33 4 70 34 15 30"


@dataclass(frozen=True)
class ContactRow:
    """One validated directory entry; optional fields left empty in the file are None."""

    department: str
    name: str
    role: str | None = None
    email: str | None = None
    phone: str | None = None
    organisation: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class RowError:
    """A problem found in the file, located as a spreadsheet user sees it (header = line 1)."""

    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        if self.column is None:
            return f"ligne {self.line} : {self.message}"
        return f"ligne {self.line}, colonne {self.column} : {self.message}"


@dataclass
class ParsedContacts:
    """Valid rows and every error found; an import should only proceed when errors is empty."""

    rows: list[ContactRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_email(text: str) -> str:
    """Return the trimmed address with its domain lower-cased, or raise ValueError with a French message."""
    candidate = text.strip()
    match = _EMAIL.fullmatch(candidate)
    if match is None:
        raise ValueError(f"« {candidate} » n'est pas une adresse électronique valide")
    return f"{match['local']}@{match['domain'].lower()}"


def _pairs(digits: str) -> str:
    return " ".join(digits[i : i + 2] for i in range(0, len(digits), 2))


def validate_phone(text: str) -> str:
    """Return a French phone number written "04 70 34 15 30" or "+33 4 70 34 15 30", or raise ValueError."""
    candidate = text.strip()
    invalid = f"« {candidate} » n'est pas un numéro de téléphone valide"
    if re.search(r"[^\W\d_]", candidate):
        raise ValueError(f"{invalid} (il contient des lettres ; {_PHONE_EXAMPLE})")
    # "+33 (0)4 …" is a common notation where the national 0 must be dropped.
    compact = _PHONE_SEPARATORS.sub("", candidate.replace("(0)", ""))
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not re.fullmatch(r"\+?\d+", compact):
        raise ValueError(f"{invalid} (seuls les chiffres, espaces, points, tirets et + sont permis)")

    if not compact.startswith("+"):
        if len(compact) < 10:
            raise ValueError(f"{invalid} (trop court : 10 chiffres attendus, {_PHONE_EXAMPLE})")
        if len(compact) > 10:
            raise ValueError(f"{invalid} (trop long : 10 chiffres attendus, {_PHONE_EXAMPLE})")
        if not re.fullmatch(r"0[1-9]\d{8}", compact):
            raise ValueError(f"{invalid} (un numéro français commence par 0 puis un chiffre de 1 à 9)")
        return _pairs(compact)

    digits = compact[1:]
    for country in ("33", *_OVERSEAS_CODES):
        if digits.startswith(country):
            national = digits[len(country) :]
            # "+33 0470…" keeps the national 0 by mistake; the number is still unambiguous.
            if len(national) == 10 and national.startswith("0"):
                national = national[1:]
            if len(national) < 9:
                raise ValueError(f"{invalid} (trop court : 9 chiffres attendus après +{country})")
            if len(national) > 9 or national.startswith("0"):
                raise ValueError(f"{invalid} (9 chiffres attendus après +{country}, {_PHONE_EXAMPLE})")
            if country == "33":
                return f"+33 {national[0]} {_pairs(national[1:])}"
            # Overseas numbers are read with their three-digit area prefix: "+262 262 12 34 56".
            return f"+{country} {national[:3]} {_pairs(national[3:])}"
    raise ValueError(
        f"{invalid} (seuls les numéros français sont acceptés : +33, ou +262, +590, +594, +596, +269 outre-mer)"
    )


def _decode(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Older Excel versions on Windows save "CSV (séparateur : point-virgule)" in cp1252.
        return data.decode("cp1252", errors="replace")


def _sniff_delimiter(text: str) -> str:
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    # Quoted header cells may contain any delimiter; only count the ones outside quotes.
    unquoted = re.sub(r'"[^"]*"', "", first_line)
    counts = {delimiter: unquoted.count(delimiter) for delimiter in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _header_key(text: str) -> str:
    return fold(text).replace(" ", "")


_ALIAS_TO_FIELD = {alias: name for name, aliases in _HEADER_ALIASES.items() for alias in aliases}


def _accepted_columns() -> str:
    french = ", ".join(_DISPLAY_NAMES.values())
    english = ", ".join(_ENGLISH_NAMES)
    return f"{french} (ou en anglais : {english})"


def _resolve_department(value: str) -> Department | None:
    department = departments.get(value)
    if department is not None:
        return department
    folded = fold(value)
    return next((d for d in departments.all_departments() if fold(d.name) == folded), None)


def _unknown_department_message(value: str) -> str:
    found = departments.search(value)
    # A short list of partial matches ("Réunion", "Corse", "Seine") is a better hint than spelling similarity.
    candidates = found if 0 < len(found) <= _MAX_HINTS else departments.suggest(value)
    if not candidates:
        return f"« {value} » : département inconnu (indiquez le code, par ex. 03, ou le nom exact, par ex. Allier)"
    hints = [f"{d.name}, {d.code}" for d in candidates]
    hint = hints[0] if len(hints) == 1 else ", ".join(hints[:-1]) + " ou " + hints[-1]
    return f"« {value} » : département inconnu (vouliez-vous dire {hint} ?)"


def _read_header(cells: list[str]) -> tuple[dict[str, int], dict[str, str], list[RowError]]:
    columns: dict[str, int] = {}
    labels: dict[str, str] = {}
    errors: list[RowError] = []
    unknown: list[str] = []
    for index, raw in enumerate(cells):
        label = raw.strip()
        if not label:
            # Excel often exports trailing empty columns; they carry no header and no meaning.
            continue
        field_name = _ALIAS_TO_FIELD.get(_header_key(label))
        if field_name is None:
            unknown.append(label)
        elif field_name in columns:
            errors.append(RowError(1, label, f"la colonne « {labels[field_name]} » apparaît deux fois dans l'en-tête"))
        else:
            columns[field_name] = index
            labels[field_name] = label
    if unknown:
        names = ", ".join(f"« {name} »" for name in unknown)
        plural = "colonnes inconnues" if len(unknown) > 1 else "colonne inconnue"
        errors.append(RowError(1, None, f"{plural} : {names}. Colonnes acceptées : {_accepted_columns()}"))
    missing = [_DISPLAY_NAMES[required] for required in _REQUIRED if required not in columns]
    if missing:
        names = " et ".join(f"« {name} »" for name in missing)
        plural = "colonnes obligatoires" if len(missing) > 1 else "colonne obligatoire"
        # The accepted list is already in the unknown-columns error; repeating it would drown the message.
        accepted = "" if unknown else f" ; colonnes acceptées : {_accepted_columns()}"
        errors.append(
            RowError(
                1,
                None,
                f"{plural} {names} absente{'s' if len(missing) > 1 else ''} de l'en-tête "
                f"(la première ligne du fichier doit nommer les colonnes{accepted})",
            )
        )
    return columns, labels, errors


def _parse_row(
    line: int, cells: list[str], columns: dict[str, int], labels: dict[str, str], named: set[int]
) -> tuple[ContactRow | None, list[RowError]]:
    errors: list[RowError] = []

    def cell(field_name: str) -> str | None:
        index = columns.get(field_name)
        if index is None or index >= len(cells):
            return None
        value = cells[index].replace("\r\n", "\n").strip()
        return value or None

    def missing(field_name: str) -> None:
        errors.append(RowError(line, labels[field_name], "valeur obligatoire manquante"))

    department_value = cell("department")
    department: Department | None = None
    if department_value is None:
        missing("department")
    else:
        department = _resolve_department(department_value)
        if department is None:
            errors.append(RowError(line, labels["department"], _unknown_department_message(department_value)))

    name = cell("name")
    if name is None:
        missing("name")

    email = cell("email")
    if email is not None:
        try:
            email = validate_email(email)
        except ValueError as exc:
            errors.append(RowError(line, labels["email"], str(exc)))

    phone = cell("phone")
    if phone is not None:
        try:
            phone = validate_phone(phone)
        except ValueError as exc:
            errors.append(RowError(line, labels["phone"], str(exc)))

    # Named but unknown columns are reported once for the header; here only cells with no header at all.
    if any(value.strip() for index, value in enumerate(cells) if index not in named):
        errors.append(
            RowError(
                line,
                None,
                "des valeurs dépassent les colonnes de l'en-tête "
                "(un séparateur « ; » ou « , » en trop, ou une adresse à mettre entre guillemets ?)",
            )
        )

    if errors or department is None or name is None:
        return None, errors
    return (
        ContactRow(
            department=department.code,
            name=name,
            role=cell("role"),
            email=email,
            phone=phone,
            organisation=cell("organisation"),
            address=cell("address"),
        ),
        [],
    )


def parse_contacts(data: bytes) -> ParsedContacts:
    """Parse a directory CSV (";" or "," separated, UTF-8 with or without BOM, or cp1252) and report every error.

    Line numbers count records, not physical lines, so that an address spanning several lines inside quotes
    still matches the row number shown by a spreadsheet.
    """
    result = ParsedContacts()
    text = _decode(data)
    if not text.strip():
        result.errors.append(RowError(1, None, "le fichier est vide"))
        return result

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text), skipinitialspace=True)
    records: list[tuple[int, list[str]]] = []
    try:
        for record in reader:
            records.append((len(records) + 1, record))
    except csv.Error:
        # Typically a stray quote that swallows the rest of the file into one oversized cell.
        result.errors.append(
            RowError(
                len(records) + 1,
                None,
                'fichier illisible à partir de cette ligne : un guillemet « " » est-il resté ouvert ?',
            )
        )
        return result
    # Blank lines before the header would otherwise be read as an empty header.
    while records and not any(cell.strip() for cell in records[0][1]):
        records.pop(0)
    if not records:
        result.errors.append(RowError(1, None, "le fichier est vide"))
        return result
    header_line, header = records[0]

    columns, labels, header_errors = _read_header(header)
    result.errors.extend(RowError(header_line, e.column, e.message) for e in header_errors)
    if any(required not in columns for required in _REQUIRED):
        return result

    named = {index for index, label in enumerate(header) if label.strip()}
    seen: dict[tuple[str, str], int] = {}
    for line, cells in records[1:]:
        if not any(cell.strip() for cell in cells):
            continue
        row, errors = _parse_row(line, cells, columns, labels, named)
        result.errors.extend(errors)
        if row is None:
            continue
        key = (row.department, fold(row.name))
        if key in seen:
            result.errors.append(
                RowError(line, labels["name"], f"« {row.name} » figure déjà à la ligne {seen[key]} pour ce département")
            )
            continue
        seen[key] = line
        result.rows.append(row)

    if not result.rows and not result.errors:
        result.errors.append(RowError(header_line, None, "le fichier ne contient aucun contact après l'en-tête"))
    return result
