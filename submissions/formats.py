"""The submission file formats: names, headers, and how mention text is made TSV-safe."""

from __future__ import annotations

from core.corpus import TSV_7A_HEADER, TSV_7B_HEADER

#: File names of the CodaLab submission TSVs (the scorer itself ignores names).
TASK_7A_FILE = "task7a.tsv"
TASK_7B_FILE = "task7b.tsv"
HEADER_7A = "\t".join(TSV_7A_HEADER)
HEADER_7B = "\t".join(TSV_7B_HEADER)
#: The 7b row for a tweet without entities, as in the gold standard.
NO_ENTITY_COLUMNS = ("-", "-", "-", "-")

# Characters that end a line or a field for some reader (Python's str.splitlines,
# pandas, brat) and therefore must not appear inside an extraction column.
_BREAKING = "\t\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_TO_SPACE = str.maketrans(dict.fromkeys(_BREAKING, " "))


def tsv_safe(mention: str) -> str:
    """The mention as written to a TSV or ``.ann``: tabs and line breaks become spaces.

    Tweets contain newlines, and a predicted span may cross one; written raw it would
    split the row and the official scorer would drop it. The scorer ignores the
    extraction column, so replacing these characters changes nothing it counts, and
    the validator compares extractions through this same function.
    """
    return mention.translate(_TO_SPACE)
