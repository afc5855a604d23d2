"""Forms as Slack modals: the same definitions as the text dialogs, read back with the same parse functions.

Each field is one input block (its block id is the field's name): a select for a choice list, a date picker,
a text input with the field's limit, a file input. What Slack sends back on submission becomes the `Answer`
the text dialog would have received, so that errors are the dialog's own sentences, shown next to the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.forms import OTHER, Answer, Field, Form, FormContext, Invalid, Kind, display, parse
from bot.i18n import _
from integrations.slack.render import escape, section, split
from storage.files import FileKind

FORM_CALLBACK = "odpe_form"
CONFIRM_CALLBACK = "odpe_confirm"
REASON_CALLBACK = "odpe_reason"
TITLE_LIMIT = 24
OPTION_LIMIT = 75
LONG_TEXT = 300  # above this limit, a text input has several lines
LIST_LIMIT = 1000
INPUT_LIMIT = 3000  # the most a Slack text input takes
ACTION = "value"
OTHER_SUFFIX = "__other"
FILE_TYPES = [kind.value for kind in FileKind]  # what the file check accepts


def plain(text: object, limit: int = 2000) -> dict[str, Any]:
    value = str(text)
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return {"type": "plain_text", "text": value}


def view(callback_id: str, title: object, blocks: list[dict[str, Any]], submit: object,
         metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, TITLE_LIMIT),
        "submit": plain(submit, TITLE_LIMIT),
        "close": plain(_("Fermer"), TITLE_LIMIT),
        "private_metadata": json.dumps(dict(metadata)),
        "blocks": blocks,
    }


def form_view(form: Form, callback_id: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The modal of `form`: its intro, then one input per field (the consent fields as a checkbox)."""
    blocks: list[dict[str, Any]] = []
    if form.intro is not None:
        blocks.append(section(escape(str(form.intro))))
    for form_field in form.fields:
        blocks.extend(field_blocks(form_field))
    return view(callback_id, form.title, blocks, _("Continuer"), metadata)


def field_blocks(form_field: Field) -> list[dict[str, Any]]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": form_field.name,
        "label": plain(form_field.label),
        "optional": not form_field.required,
        "element": element(form_field),
    }
    if form_field.help is not None and form_field.kind is not Kind.CONSENT:
        block["hint"] = plain(form_field.help)
    blocks = [block]
    if form_field.kind is Kind.CONSENT and form_field.help is not None:
        blocks.insert(0, section(escape(str(form_field.help))))
    if form_field.kind is Kind.CHOICE and form_field.choices is not None and form_field.choices.get(OTHER):
        blocks.append({
            "type": "input",
            "block_id": form_field.name + OTHER_SUFFIX,
            "label": plain(_("Précision, si vous avez choisi « Autre »")),
            "optional": True,
            "element": {"type": "plain_text_input", "action_id": ACTION, "max_length": 100},
        })
    return blocks


def element(form_field: Field) -> dict[str, Any]:
    kind = form_field.kind
    if kind is Kind.CHOICE and form_field.choices is not None:
        options = [option(str(term.label), term.key) for term in form_field.choices]
        return {"type": "static_select", "action_id": ACTION, "placeholder": plain(_("Choisir")), "options": options}
    if kind is Kind.DATE:
        return {"type": "datepicker", "action_id": ACTION}
    if kind is Kind.FILE:
        return {"type": "file_input", "action_id": ACTION, "filetypes": FILE_TYPES, "max_files": 1}
    if kind is Kind.CONSENT:
        return {"type": "checkboxes", "action_id": ACTION,
                "options": [option(str(_("J'accepte ces conditions")), "yes")]}
    if kind is Kind.YES_NO:
        return {"type": "radio_buttons", "action_id": ACTION,
                "options": [option(str(_("oui")), "oui"), option(str(_("non")), "non")]}
    text: dict[str, Any] = {"type": "plain_text_input", "action_id": ACTION}
    limit = form_field.max_length or (LIST_LIMIT if kind is Kind.LIST else None)
    if limit is not None:
        text["max_length"] = min(limit, INPUT_LIMIT)
        text["multiline"] = limit > LONG_TEXT
    return text


def option(label: str, value: str) -> dict[str, Any]:
    return {"text": plain(label, OPTION_LIMIT), "value": value}


def submitted(form: Form, values: Mapping[str, Any]) -> dict[str, str | list[dict[str, Any]] | None]:
    """What was given for each field, as text (a choice's key, a date in ISO form), or the files of a file
    input; None for what was left empty."""
    given: dict[str, str | list[dict[str, Any]] | None] = {}
    for form_field in form.fields:
        state = values.get(form_field.name, {}).get(ACTION, {})
        kind = form_field.kind
        if kind is Kind.FILE:
            given[form_field.name] = list(state.get("files") or []) or None
            continue
        if kind is Kind.CHOICE:
            chosen = (state.get("selected_option") or {}).get("value")
            precision = values.get(form_field.name + OTHER_SUFFIX, {}).get(ACTION, {}).get("value") or ""
            given[form_field.name] = f"{chosen}:{precision}" if chosen == OTHER else chosen
        elif kind is Kind.DATE:
            given[form_field.name] = state.get("selected_date")
        elif kind is Kind.CONSENT:
            given[form_field.name] = "oui" if state.get("selected_options") else None
        elif kind is Kind.YES_NO:
            given[form_field.name] = (state.get("selected_option") or {}).get("value")
        else:
            given[form_field.name] = state.get("value")
        value = given[form_field.name]
        if isinstance(value, str):
            # No database keeps a NUL in text (PostgreSQL refuses it), as the router says of messages: it is noise.
            value = value.replace("\x00", "")
            given[form_field.name] = value if value.strip() else None
    return given


def validate(
    form: Form, answers: Mapping[str, Answer | None], ctx: FormContext
) -> tuple[dict[str, Any], dict[str, str]]:
    """The values of the fields, read by the dialogs' own parse functions, and an error for each field that
    cannot be taken (keyed by block id, as `response_action: errors` wants them)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for form_field in form.fields:
        answer = answers.get(form_field.name)
        if answer is None:
            if form_field.required:
                errors[form_field.name] = str(_("Ce champ est obligatoire."))
            values[form_field.name] = None
            continue
        try:
            values[form_field.name] = parse(form_field, answer, ctx)
        except Invalid as exc:
            errors[form_field.name] = exc.message
    return values, errors


def confirmation(form: Form, values: Mapping[str, Any], metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The summary of a filled form, to check before it is sent."""
    rows = [
        f"*{escape(str(f.label))}* : {escape(display(f, values.get(f.name)))}"
        for f in form.fields
        if f.kind is not Kind.CONSENT
    ]
    blocks = [
        section(escape(str(_("Récapitulatif — {title}")).format(title=form.title))),
        *[section(part) for row in rows for part in split(row)],
        {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(str(_(
            "Vérifiez puis envoyez. Votre saisie est gardée : vous pouvez aussi répondre « oui » en message "
            "direct pour l'envoyer, ou « modifier N » pour changer un champ.")))}]},
    ]
    return view(CONFIRM_CALLBACK, form.title, blocks, _("Envoyer"), metadata)
