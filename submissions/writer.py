"""Write predictions as ready-to-upload submission files.

One call writes everything a ProfNER participant uploads, plus brat for shared tasks
that take standoff annotations:

* ``task7a.tsv`` / ``task7a.zip`` -- ``tweet_id<TAB>label`` with header, one row per tweet;
* ``task7b.tsv`` / ``task7b.zip`` -- ``tweet_id<TAB>begin<TAB>end<TAB>type<TAB>extraction``
  with header; a tweet without entities gets one ``-`` row, the gold standard's own
  convention. The official scorer drops that row silently (its type is not evaluated),
  so it is harmless, and it keeps every tweet visible in the file;
* ``brat.zip`` -- ``ID.ann`` and ``ID.txt`` for every tweet, at the zip root.

Each CodaLab zip holds a single TSV at its root, as the scorer required. Zips are built
with fixed timestamps so the same predictions always give byte-identical files, and
every file is written atomically.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from core.display import shown
from core.errors import HarnessError
from core.fileio import atomic_write_bytes
from core.tweets import Prediction, check_tweet_id
from submissions.brat import render_ann
from submissions.formats import (
    HEADER_7A,
    HEADER_7B,
    NO_ENTITY_COLUMNS,
    TASK_7A_FILE,
    TASK_7B_FILE,
    tsv_safe,
)

#: Keys of :func:`write_submission`'s result.
OUTPUT_KEYS = ("7a", "7b", "7a_zip", "7b_zip", "brat_zip")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def render_7a_tsv(predictions: Sequence[Prediction]) -> str:
    """The 7a TSV text: header, then one ``id<TAB>label`` row per prediction."""
    rows = [HEADER_7A] + [f"{p.tweet_id}\t{p.label}" for p in predictions]
    return "\n".join(rows) + "\n"


def render_7b_tsv(predictions: Sequence[Prediction], texts: Mapping[str, str]) -> str:
    """The 7b TSV text: header, one row per span (a ``-`` row for a tweet without any).

    ``extraction`` is ``text[begin:end]`` made TSV-safe (see
    :func:`submissions.formats.tsv_safe`); spans keep the prediction's order.
    """
    rows = [HEADER_7B]
    for prediction in predictions:
        text = texts[prediction.tweet_id]
        if not prediction.spans:
            rows.append("\t".join((prediction.tweet_id, *NO_ENTITY_COLUMNS)))
        for span in prediction.spans:
            mention = tsv_safe(text[span.begin : span.end])
            rows.append(f"{prediction.tweet_id}\t{span.begin}\t{span.end}\t{span.type}\t{mention}")
    return "\n".join(rows) + "\n"


def zip_bytes(members: Mapping[str, bytes]) -> bytes:
    """A deflated zip of ``members`` (name -> content), reproducible byte for byte."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def check_predictions(predictions: Sequence[Prediction], texts: Mapping[str, str]) -> None:
    """Refuse predictions that would make an invalid submission, with a one-line reason.

    Every tweet of ``texts`` needs exactly one prediction (7a lists every tweet), labels
    are 0 or 1, spans lie inside their text (the extraction column needs it), and ids
    hold no tab, newline or other control character (each would corrupt its row; the
    corpus reader refuses them already, this guards predictions made elsewhere).
    """
    seen: set[str] = set()
    for prediction in predictions:
        tweet_id = prediction.tweet_id
        check_tweet_id(tweet_id, "predictions")
        shown_id = shown(tweet_id)
        if tweet_id not in texts:
            raise HarnessError(f"prediction for tweet {shown_id}, which has no text")
        if tweet_id in seen:
            raise HarnessError(f"tweet {shown_id} is predicted twice")
        seen.add(tweet_id)
        if prediction.label not in (0, 1) or isinstance(prediction.label, bool):
            raise HarnessError(f"tweet {shown_id}: label must be 0 or 1, got {prediction.label!r}")
        length = len(texts[tweet_id])
        for span in prediction.spans:
            if span.end > length:
                raise HarnessError(
                    f"tweet {shown_id}: span {span.begin}-{span.end} ({shown(span.type)}) "
                    f"ends after the text (length {length})"
                )
            if not span.type or span.type != span.type.strip() or "\t" in span.type:
                raise HarnessError(f"tweet {shown_id}: entity type {span.type!r} is not writable")
    missing = [tweet_id for tweet_id in texts if tweet_id not in seen]
    if missing:
        raise HarnessError(
            f"{len(missing)} tweet(s) have no prediction (e.g. {shown(missing[0])}); "
            "a submission must list every tweet"
        )


def write_submission(
    out_dir: str | os.PathLike[str],
    predictions: Sequence[Prediction],
    texts: Mapping[str, str],
) -> dict[str, Path]:
    """Write every submission file for ``predictions`` into ``out_dir``.

    ``texts`` maps each tweet id to its text (offsets and extractions refer to it) and
    must have exactly the predicted tweets. Returns the written paths under the keys
    ``7a``, ``7b`` (TSVs), ``7a_zip``, ``7b_zip`` (CodaLab uploads) and ``brat_zip``.
    """
    check_predictions(predictions, texts)
    out = Path(out_dir)
    tsv_7a = render_7a_tsv(predictions).encode("utf-8")
    tsv_7b = render_7b_tsv(predictions, texts).encode("utf-8")
    brat: dict[str, bytes] = {}
    for prediction in predictions:
        text = texts[prediction.tweet_id]
        brat[f"{prediction.tweet_id}.ann"] = render_ann(prediction.spans, text).encode("utf-8")
        brat[f"{prediction.tweet_id}.txt"] = text.encode("utf-8")
    contents = {
        "7a": (TASK_7A_FILE, tsv_7a),
        "7b": (TASK_7B_FILE, tsv_7b),
        "7a_zip": ("task7a.zip", zip_bytes({TASK_7A_FILE: tsv_7a})),
        "7b_zip": ("task7b.zip", zip_bytes({TASK_7B_FILE: tsv_7b})),
        "brat_zip": ("brat.zip", zip_bytes(brat)),
    }
    return {key: atomic_write_bytes(out / name, data) for key, (name, data) in contents.items()}
