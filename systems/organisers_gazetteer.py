"""The ProfNER organisers' occupations gazetteer (``term<TAB>lemma``), cleaned for matching.

The file mixes occupation names from DeCS, ESCO, SnomedCT and WordNet with whole scope
notes and definitions, lists alternatives in one row ("plomero Y/O montador de
tuberías"), and gives a lemma per row that is sometimes the singular or masculine form
of the term and sometimes a lemmatised sentence ("agente de el ley"). The rules below
keep what can occur as a mention in a tweet:

* a row is cut at commas and at "y/o" into its alternatives;
* an alternative with sentence punctuation (``.`` ``:`` ``;`` brackets, a numbered
  list) or with more than ``MAX_WORDS`` words (the harness's tokens) is a definition,
  and dropped;
* the lemma is added as a second form when it has as many words as the term (an
  inflected form of the same words: "Anestesistas" -> "anestesista", "profesora
  universitaria" -> "profesor universitario") and no tagger contraction ("a+el");
* case and accents are folded when the terms are matched (``gazetteer.fold``), so
  "Médicos" and "medicos" are one term.

The file has no entity types: its terms are untyped (``ANY``) gazetteer flags.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from core.errors import HarnessError
from systems.gazetteer import ANY_TYPE, Gazetteer, gazetteer_text, term_key

#: the source name of ``-o gazetteer=`` for this file
SOURCE = "profner"
#: where ``-o gazetteer=profner`` finds the file without a path (``profner:PATH``)
PATH_VARIABLE = "HARNESS_PROFNER_GAZETTEER"
#: alternatives longer than this are definitions, not names
MAX_WORDS = 8

_ALTERNATIVES = re.compile(r",|\s+y\s*/\s*o\s+", re.IGNORECASE)
_DEFINITION = re.compile(r"[.:;()\[\]]|\d\s*\)")


def term_forms(term: str, lemma: str) -> list[str]:
    """The forms of one row worth matching: its alternatives that are names, each with
    its lemma when that is an inflected form of the same words."""
    terms = [t.strip() for t in _ALTERNATIVES.split(term)]
    lemmas = [t.strip() for t in _ALTERNATIVES.split(lemma)]
    if len(lemmas) != len(terms):
        lemmas = [""] * len(terms)
    forms: list[str] = []
    for name, name_lemma in zip(terms, lemmas, strict=True):
        words = len(term_key(name))
        if not words or _DEFINITION.search(name) or words > MAX_WORDS:
            continue
        forms.append(name)
        if (
            name_lemma
            and "+" not in name_lemma
            and not _DEFINITION.search(name_lemma)
            and len(term_key(name_lemma)) == words
        ):
            forms.append(name_lemma)
    return forms


def read_organisers_gazetteer(path: str | Path, types: tuple[str, ...]) -> Gazetteer:
    """The file's names as untyped terms; one-line errors for an unreadable file or a row
    that is not ``term<TAB>lemma``."""
    path = Path(path)
    text = gazetteer_text(path)
    gazetteer = Gazetteer(types)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        columns = line.split("\t")
        if len(columns) != 2:
            raise HarnessError(
                f"{path}:{number}: expected 'term<TAB>lemma' (the organisers' format), "
                f"found {len(columns)} column(s)"
            )
        for form in term_forms(*columns):
            if term_key(form):
                gazetteer.add(form, ANY_TYPE)
    if not gazetteer.terms:
        raise HarnessError(f"{path}: no usable terms in the organisers' gazetteer")
    return gazetteer


def organisers_path(source: str) -> Path:
    """The file a ``profner`` or ``profner:PATH`` source names."""
    _, _, given = source.partition(":")
    given = given or os.environ.get(PATH_VARIABLE, "")
    if not given:
        raise HarnessError(
            f"-o gazetteer={SOURCE}: say where the organisers' gazetteer is: "
            f"-o gazetteer={SOURCE}:PATH, or set {PATH_VARIABLE}=PATH"
        )
    return Path(given)


def is_organisers_source(source: str) -> bool:
    return source == SOURCE or source.startswith(f"{SOURCE}:")
