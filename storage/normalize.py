"""Text folding for search: accents, case and punctuation ignored ("Côtes-d'Armor" ~ "cotes d armor")."""

from __future__ import annotations

import re
import unicodedata

_SEPARATORS = re.compile(r"[\s\-‐‑–—'’`_.,;:/]+")


def fold(text: str) -> str:
    """Lower-case, strip accents, turn œ/æ into oe/ae, and collapse separators into one space."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    stripped = stripped.replace("œ", "oe").replace("æ", "ae")
    return _SEPARATORS.sub(" ", stripped).strip()
