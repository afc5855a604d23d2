"""The seeds' lists (document types, themes, publics, scales...) with stable keys and French labels."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from bot.i18n import LazyText, _


@dataclass(frozen=True)
class Term:
    """One entry of a list: `key` is stored in the database and never shown, `label` is what readers see."""

    key: str
    label: LazyText


@dataclass(frozen=True)
class TermList:
    """An ordered list of terms, in the order the seed presents them (dialogs number choices in that order)."""

    name: str
    terms: tuple[Term, ...]

    def __post_init__(self) -> None:
        # Keys are what the database holds: a duplicate would make two choices indistinguishable once stored.
        keys = [term.key for term in self.terms]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError(f"{self.name}: duplicate keys {duplicates}")

    def __iter__(self) -> Iterator[Term]:
        return iter(self.terms)

    def __len__(self) -> int:
        return len(self.terms)

    def __contains__(self, key: object) -> bool:
        return any(term.key == key for term in self.terms)

    def get(self, key: str) -> Term | None:
        return next((term for term in self.terms if term.key == key), None)

    def keys(self) -> tuple[str, ...]:
        return tuple(term.key for term in self.terms)

    def label(self, key: str) -> str:
        """The label in the reader's language; an unknown key (a term since retired) is shown as itself."""
        term = self.get(key)
        return str(term.label) if term is not None else key


def _terms(name: str, *pairs: tuple[str, LazyText]) -> TermList:
    return TermList(name, tuple(Term(key, label) for key, label in pairs))


# Seed 000, step 1: the classification every document transmitted to the ONPE is filed under.
DOCUMENT_TYPES = _terms(
    "document_types",
    ("statistical_data", _("Données statistiques")),
    ("studies_and_research", _("Études et recherches")),
    ("methodological_guides", _("Guides méthodologiques")),
    ("odpe_reports", _("Rapports ODPE")),
    ("innovative_scheme_sheets", _("Fiches de dispositifs innovants")),
    ("administrative_documents", _("Documents administratifs et constitutifs")),
)

# Seed 000, step 2 asks for "quantitatif/qualitatif"; documents often combine both, hence the third choice.
DATA_NATURES = _terms(
    "data_natures",
    ("quantitative", _("Quantitative")),
    ("qualitative", _("Qualitative")),
    ("mixte", _("Mixte (quantitative et qualitative)")),
)

# Seed 000, step 4: what the ONPE checks before archiving a document. Keyed so that a review can record
# which criteria it relied on.
ARCHIVING_CRITERIA = _terms(
    "archiving_criteria",
    ("lasting_interest", _("Document présentant un intérêt durable en protection de l'enfance")),
    ("methodological_guarantees", _("Document présentant des garanties méthodologiques")),
    (
        "inspires_other_departements",
        _("Document propice à alimenter les réflexions et pratiques d'autres départements"),
    ),
)

# Seed 000, step 5: when the ONPE features a document in its newsletter and website.
FEATURING_RULE = _(
    "L'ONPE met en avant, avec l'accord des référents ODPE, les documents ayant une portée nationale, "
    "un caractère intéressant ou innovant, présentant des garanties méthodologiques et des résultats jugés concluants."
)

# Seed 004, "Informations préalables": the declarant accepts these before the form opens.
PRACTICE_CONDITIONS: tuple[LazyText, ...] = (
    _("Chaque auto-déclarant porte la responsabilité des informations qu'il délivre. Il certifie leurs exactitudes."),
    _("Avant d'être mis en ligne et visible par tous, le recueil que vous ferez sera soumis à un comité de sélection."),
    _(
        "Le recueil de données nécessite également le recueil d'un accord préalable d'un représentant du "
        "département d'implantation de la pratique."
    ),
)
PRACTICE_ACCEPTANCE = _("J'ai lu et j'accepte les conditions ci-dessus")

# Seed 004, "Présentation de la pratique": maximum lengths, in characters, of the free-text fields.
ENTITY_NAME_MAX_LENGTH = 100
TITLE_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 1000
PRACTICE_LIMITS: Mapping[str, int] = MappingProxyType(
    {"entity_name": ENTITY_NAME_MAX_LENGTH, "title": TITLE_MAX_LENGTH, "description": DESCRIPTION_MAX_LENGTH}
)

# Seed 004, "Échelle de l'action".
SCALES = _terms(
    "scales",
    ("national", _("Nationale")),
    ("regional", _("Régionale")),
    ("departmental", _("Départementale")),
    ("local", _("Locale")),
)

# Seed 004, "Type d'intervention". The seed's text is an OCR of a screenshot; four entries came out garbled and
# are replaced by the measure of French child protection they most plausibly stand for:
# "IBD" -> AED and "BSI" -> AEMO (the two home-based educational measures, administrative and judicial, which a
# list of interventions cannot lack), "Accueil garderie-ventrille" -> "Accueil mère-enfant" (a hyphenated pair
# among the kinds of care), "Ciel-Ciel-école" -> "Lien famille-école" ("Ciel" being a misread "Lien").
INTERVENTION_TYPES = _terms(
    "intervention_types",
    ("situation_assessment", _("Diagnostic de situation")),
    ("aed", _("Aide éducative à domicile (AED)")),
    ("day_care", _("Accueil de jour")),
    ("emergency_care", _("Accueil d'urgence")),
    ("aemo", _("Action éducative en milieu ouvert (AEMO)")),
    ("residential_placement", _("Placement en établissement")),
    ("foster_placement", _("Placement familial")),
    ("temporary_home_care", _("Accueil temporaire au domicile")),
    ("mother_child_care", _("Accueil mère-enfant")),
    ("family_school_link", _("Lien famille-école")),
    ("third_party_care", _("Accueil par des tiers")),
    ("other", _("Autre")),
)

# Seed 004, "Thématique". "Ciel numérique" is OCR garbage for a digital theme; "Usages numériques" is the broad
# term (screens, online risks) that keeps it distinct from "Harcèlement", already listed.
THEMES = _terms(
    "themes",
    ("education", _("Éducation")),
    ("domestic_violence", _("Violences conjugales")),
    ("sexual_violence", _("Violences sexuelles")),
    ("harassment", _("Harcèlement")),
    ("mental_health", _("Santé mentale")),
    ("parent_child_ties", _("Distanciation et maintien parents/enfants")),
    ("detainees", _("Détenus")),
    ("digital_uses", _("Usages numériques")),
    ("internal_organisation", _("Modalités d'organisation interne")),
    ("other", _("Autre")),
)

# Seed 004, "Public visé", as the seed spells it (its age brackets do share the age of 4).
PUBLICS = _terms(
    "publics",
    ("age_0_4", _("0 à 4 ans")),
    ("age_4_12", _("4 à 12 ans")),
    ("adolescents", _("Adolescents")),
    ("young_adults", _("Jeunes majeurs")),
    ("unaccompanied_children", _("Enfants non accompagnés")),
    ("children_multiple_situations", _("Enfants en situation multiple")),
    ("children", _("Enfants")),
    ("all_publics", _("Tous publics")),
    ("other", _("Autre")),
)

# Seed 004, "Relais de l'implémentation".
RELAYS = _terms(
    "relays",
    ("association", _("Association")),
    ("departement", _("Département")),
    ("other", _("Autre")),
)

# The lists a submission is qualified with, hence the facets a search can filter on; the archiving criteria
# describe a review, not a submission, and stay out.
LISTS: dict[str, TermList] = {
    term_list.name: term_list
    for term_list in (DOCUMENT_TYPES, DATA_NATURES, SCALES, INTERVENTION_TYPES, THEMES, PUBLICS, RELAYS)
}
