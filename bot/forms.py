"""Forms as data: fields with their kind, limits and choices, and how an answer is read, checked and shown.

The text dialog and the Slack modal are two renderers of the same definitions, so nothing here assumes
text beyond `Answer` (what a person gave for one field). Values are JSON (they wait in the dialog state).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from bot.glossary import TermList
from bot.i18n import LazyText, _
from bot.messages import Attachment
from storage import departments
from storage.files import FileRefused, FileStore, Refusal, identify
from storage.normalize import fold

YES = {"oui", "o", "yes", "y", "ok", "d accord", "j accepte", "accepte", "je confirme", "confirme"}
NO = {"non", "n", "no"}
SKIP = "-"
MAX_LIST_ITEMS = 15
MAX_LIST_ITEM_LENGTH = 60


class Kind(enum.StrEnum):
    TEXT = "text"
    DATE = "date"
    CHOICE = "choice"
    LIST = "list"  # several short words, e.g. keywords
    DEPARTMENT = "department"
    FILE = "file"
    CONSENT = "consent"  # must be accepted to go on (the conditions of a practice declaration)
    YES_NO = "yes_no"
    TIME = "time"  # a time of day, or the whole day
    END = "end"  # an end time or a duration


class Invalid(Exception):
    """An answer that cannot be taken, with the sentence that says why (already in the person's language)."""

    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = str(message)


@dataclass(frozen=True)
class Answer:
    text: str
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class FormContext:
    """What reading an answer may need besides the answer: where files go, how big they may be, today, and the
    time zone people live in."""

    files: FileStore
    max_file_bytes: int
    today: date
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))


@dataclass(frozen=True)
class Field:
    name: str  # stable key of the value
    label: LazyText  # the question, as a short noun phrase: "Titre du document"
    kind: Kind = Kind.TEXT
    required: bool = True
    help: LazyText | None = None
    max_length: int | None = None
    choices: TermList | None = None
    check: Callable[[Any], None] | None = None  # a further rule; raises Invalid


@dataclass(frozen=True)
class Form:
    name: str
    title: LazyText
    fields: tuple[Field, ...]
    intro: LazyText | None = None
    # A rule across fields (e.g. a time that does not exist on that date), run with the answers so far each time
    # one is taken; raises Invalid, and the answer just given is asked again.
    check: Callable[[dict[str, Any], FormContext], None] | None = None

    def index(self, name: str) -> int:
        for i, f in enumerate(self.fields):
            if f.name == name:
                return i
        raise KeyError(name)


def parse(form_field: Field, answer: Answer, ctx: FormContext) -> Any:
    """The value of an answer, or Invalid with a precise sentence. Files are stored as they are accepted."""
    text = answer.text.strip()
    if form_field.kind is Kind.FILE:
        value: Any = _file(answer, ctx)
    elif not text:
        raise Invalid(_("Votre réponse est vide."))
    elif form_field.kind is Kind.TEXT:
        value = _text(form_field, text)
    elif form_field.kind is Kind.DATE:
        value = _date(text, ctx.today)
    elif form_field.kind is Kind.CHOICE:
        value = _choice(form_field, text)
    elif form_field.kind is Kind.LIST:
        value = _list(text)
    elif form_field.kind is Kind.DEPARTMENT:
        value = parse_department(text)
    elif form_field.kind is Kind.TIME:
        value = _time(text)
    elif form_field.kind is Kind.END:
        value = _end(text)
    elif form_field.kind is Kind.CONSENT:
        if fold(text) not in YES:
            raise Invalid(_("Pour continuer, répondez « oui » (vous acceptez ces conditions) ou « annuler »."))
        value = True
    else:
        value = _yes_no(text)
    if form_field.check is not None:
        form_field.check(value)
    return value


def display(form_field: Field, value: Any) -> str:
    """A value as a person reads it back in the summary."""
    if value is None:
        return str(_("(non renseigné)"))
    if form_field.kind is Kind.DATE:
        return date.fromisoformat(value).strftime("%d/%m/%Y")
    if form_field.kind is Kind.CHOICE and form_field.choices is not None:
        if isinstance(value, str) and value.startswith(OTHER_PREFIX):
            return f"{form_field.choices.label(OTHER)} ({value.removeprefix(OTHER_PREFIX)})"
        return form_field.choices.label(value)
    if form_field.kind is Kind.LIST:
        return ", ".join(value)
    if form_field.kind is Kind.DEPARTMENT:
        found = departments.get(value)
        return f"{value} — {found.name}" if found else str(value)
    if form_field.kind is Kind.FILE:
        return f"{value['name']} ({human_size(value['size'])})"
    if form_field.kind is Kind.TIME:
        return str(_("toute la journée")) if value == ALL_DAY else str(value).replace(":", " h ")
    if form_field.kind is Kind.END:
        kind, amount = str(value).split(":", 1)
        if kind == "duration":
            minutes = int(amount)
            return str(_("durée {h} h {m:02d}")).format(h=minutes // 60, m=minutes % 60)
        return str(_("jusqu'à {t}")).format(t=amount.replace(":", " h "))
    if form_field.kind in (Kind.CONSENT, Kind.YES_NO):
        return str(_("oui")) if value else str(_("non"))
    return str(value)


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} o"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} Ko"
    return f"{size / 1024 / 1024:.1f} Mo".replace(".", ",")


def _text(form_field: Field, text: str) -> str:
    text = re.sub(r"[ \t]+", " ", text)
    if form_field.max_length is not None and len(text) > form_field.max_length:
        raise Invalid(
            _("Votre texte fait {n} caractères ; {max} au plus sont permis. Raccourcissez-le et renvoyez-le.").format(
                n=len(text), max=form_field.max_length
            )
        )
    return text


_DATE = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def _date(text: str, today: date) -> str:
    match = _DATE.match(text)
    iso = _ISO.match(text)
    if match:
        day, month, year = (int(g) for g in match.groups())
    elif iso:
        year, month, day = (int(g) for g in iso.groups())
    else:
        raise Invalid(_("« {v} » n'est pas une date au format JJ/MM/AAAA (ex. 03/11/2026).").format(v=text))
    try:
        value = date(year, month, day)
    except ValueError:
        sentence = _("Le {v} n'existe pas dans le calendrier. Vérifiez le jour et le mois.")
        raise Invalid(sentence.format(v=text)) from None
    if value.year < 1900 or value.year > today.year + 5:
        raise Invalid(_("L'année {y} semble erronée. Vérifiez la date.").format(y=value.year))
    return value.isoformat()


OTHER = "other"
OTHER_PREFIX = "other:"


def _choice(form_field: Field, text: str) -> str:
    """A key of the list. "Autre" takes its precision after a colon ("Autre : médiation animale"), kept as
    `other:<text>`, as the seed's form asks for a free text with it."""
    assert form_field.choices is not None
    head, colon, precision = text.partition(":")
    key = _choice_key(form_field, head.strip() if colon else text)
    if key != OTHER or form_field.choices.get(OTHER) is None:
        return key
    precision = re.sub(r"\s+", " ", precision).strip()
    if not precision:
        raise Invalid(_("Précisez votre réponse après « Autre », par exemple « Autre : médiation animale »."))
    if len(precision) > 100:
        raise Invalid(_("La précision fait {n} caractères ; 100 au plus.").format(n=len(precision)))
    return OTHER_PREFIX + precision


def _choice_key(form_field: Field, text: str) -> str:
    assert form_field.choices is not None
    terms = list(form_field.choices)
    if text.isdigit():
        number = int(text)
        if 1 <= number <= len(terms):
            return terms[number - 1].key
        raise Invalid(_("Il n'y a pas de choix n° {n} : répondez par un numéro de 1 à {max}.").format(
            n=number, max=len(terms)))
    wanted = fold(text)
    exact = [t for t in terms if fold(str(t.label)) == wanted or t.key == text]
    if exact:
        return exact[0].key
    starting = [t for t in terms if fold(str(t.label)).startswith(wanted)]
    if len(starting) == 1:
        return starting[0].key
    if len(starting) > 1:
        names = ", ".join(str(t.label) for t in starting)
        raise Invalid(_("« {v} » correspond à plusieurs choix ({names}) : précisez ou donnez le numéro.").format(
            v=text, names=names))
    raise Invalid(_("« {v} » ne correspond à aucun choix : répondez par un numéro de 1 à {max} ou par le nom.").format(
        v=text, max=len(terms)))


def _list(text: str) -> list[str]:
    items = [re.sub(r"\s+", " ", part).strip() for part in re.split(r"[,;\n]", text)]
    items = [item for item in items if item]
    if not items:
        raise Invalid(_("Donnez au moins un mot, séparés par des virgules."))
    if len(items) > MAX_LIST_ITEMS:
        raise Invalid(_("{n} éléments, c'est beaucoup : {max} au plus.").format(n=len(items), max=MAX_LIST_ITEMS))
    long = [item for item in items if len(item) > MAX_LIST_ITEM_LENGTH]
    if long:
        raise Invalid(_("« {v} » est trop long pour un mot-clé ({max} caractères au plus) : séparez par des "
                        "virgules.").format(v=long[0][:80], max=MAX_LIST_ITEM_LENGTH))
    return items


def parse_department(text: str) -> str:
    """A département code from a code or a name; Invalid says which ones were meant, or suggests one."""
    found = departments.resolve(text)
    if found is not None:
        return found.code
    matches = departments.search(text)
    if matches:
        names = ", ".join(f"{d.code} {d.name}" for d in matches[:6])
        raise Invalid(_("« {q} » désigne plusieurs départements : {options}. Précisez le code.").format(
            q=text, options=names))
    hints = departments.suggest(text)
    if hints:
        raise Invalid(_("Département inconnu : « {q} ». Vouliez-vous dire {name} ({code}) ?").format(
            q=text, name=hints[0].name, code=hints[0].code))
    raise Invalid(_("Département inconnu : « {q} ». Donnez son code (ex. 03) ou son nom.").format(q=text))


ALL_DAY = "all_day"
MAX_DURATION_HOURS_WRITTEN_ALONE = 6
_CLOCK = re.compile(r"^(\d{1,2})\s*(?:h|:|H)\s*(\d{2})?$")
_DURATION = re.compile(r"^(?:(\d{1,2})\s*h(?:eures?)?)?\s*(?:(\d{1,3})\s*(?:min(?:utes?)?)?)?$")
ALL_DAY_WORDS = {"journee", "toute la journee", "jour", "all day", "journee entiere"}


def _clock(text: str) -> str | None:
    match = _CLOCK.match(text.strip().lower())
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if hour > 23 or minute > 59:
        raise Invalid(_("« {v} » n'est pas une heure (de 00:00 à 23:59).").format(v=text))
    return f"{hour:02d}:{minute:02d}"


def _time(text: str) -> str:
    if fold(text) in ALL_DAY_WORDS:
        return ALL_DAY
    clock = _clock(text)
    if clock is None:
        raise Invalid(_("« {v} » n'est pas une heure : écrivez par exemple 14h30, ou « journée ».").format(v=text))
    return clock


def _end(text: str) -> str:
    """An end time ("16h30", "16:30") or a duration ("2h", "90 min", "durée 1h30")."""
    words = text.strip().lower()
    explicit = words.startswith(("duree", "durée"))
    words = words.removeprefix("durée").removeprefix("duree").strip()
    hours = re.fullmatch(r"(\d{1,2})\s*h(eures?)?", words)
    # "2h" is a duration, "16h" an end time: nobody means a sixteen-hour meeting.
    short = hours is not None and int(hours.group(1)) <= MAX_DURATION_HOURS_WRITTEN_ALONE
    clock = None if explicit or short else _clock(words)
    if clock is not None:
        return f"until:{clock}"
    match = _DURATION.match(words)
    if match and (match.group(1) or match.group(2)):
        minutes = int(match.group(1) or 0) * 60 + int(match.group(2) or 0)
        if 0 < minutes <= 24 * 60:
            return f"duration:{minutes}"
    raise Invalid(_("« {v} » : donnez l'heure de fin (ex. 16h30) ou la durée (ex. 2h, 90 min).").format(v=text))


def _yes_no(text: str) -> bool:
    folded = fold(text)
    if folded in YES:
        return True
    if folded in NO:
        return False
    raise Invalid(_("Répondez par « oui » ou par « non »."))


REFUSALS: dict[Refusal, LazyText] = {
    Refusal.EMPTY: _("Le fichier « {name} » est vide."),
    Refusal.TOO_LARGE: _("Le fichier « {name} » dépasse la taille permise ({limit} Mo)."),
    Refusal.EXECUTABLE: _("Le fichier « {name} » est un programme ({detected}) : il ne peut pas être déposé."),
    Refusal.ENCRYPTED_OR_CORRUPT: _("Le fichier « {name} » est illisible (abîmé ou protégé par un mot de passe)."),
    Refusal.UNSUPPORTED: _("Le fichier « {name} » est de type {detected}, qui n'est pas accepté."),
}
ACCEPTED = "PDF, ODT, DOCX, ODS, XLSX, CSV, ODP, PPTX"


def _file(answer: Answer, ctx: FormContext) -> dict[str, Any]:
    if not answer.attachments:
        raise Invalid(_("Envoyez le document en pièce jointe (formats acceptés : {formats}).").format(
            formats=ACCEPTED))
    attachment = answer.attachments[0]
    try:
        kind = identify(attachment.data, attachment.name, ctx.max_file_bytes)
    except FileRefused as exc:
        sentence = REFUSALS[exc.reason].format(
            name=attachment.name, limit=exc.limit_mb or ctx.max_file_bytes // (1024 * 1024),
            detected=exc.detected or str(_("inconnu")),
        )
        raise Invalid(sentence + " " + str(_("Formats acceptés : {formats}.")).format(formats=ACCEPTED)) from None
    blob = ctx.files.put(attachment.data)
    return {
        "sha256": blob.sha256,
        "name": attachment.name,
        "mime": kind.mime_type,
        "kind": kind.value,
        "size": blob.size,
        "path": str(blob.path),
    }

