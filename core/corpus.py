"""Read a ProfNER-style distribution (zip or folder) into tweets with gold labels and spans.

Layout, below a root folder that holds ``txt-files/`` (``profner/`` in the official zip)::

    txt-files/{split}/ID.txt            one tweet per file, UTF-8
    subtask-1/{split}.tsv               task 7a: tweet_id <TAB> label
    subtask-2/tsv/{split}.tsv           task 7b: tweet_id begin end type extraction
    subtask-2/brat/{split}/ID.ann       task 7b as brat standoff (used when no TSV)

Texts are read as bytes and decoded without newline translation, so offsets are never
shifted by CRLF, a byte-order mark or astral-plane emoji: an offset is a code point index
into exactly the characters of the file. Gold is checked on reading: every span must lie
inside its text and its ``extraction`` column must equal ``text[begin:end]``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from core.display import shown
from core.errors import HarnessError
from core.fileio import Bundle, stem
from core.tweets import ALL_PROFNER_TYPES, EVALUATED_TYPES, Span, Tweet, check_tweet_id

#: Splits in the order they are listed and processed.
KNOWN_SPLITS = ("train", "valid", "test", "background")
TSV_7B_HEADER = ("tweet_id", "begin", "end", "type", "extraction")
TSV_7A_HEADER = ("tweet_id", "label")


@dataclass(frozen=True)
class GoldRow:
    """Where a gold entity was read: its file and 1-based line."""

    where: str
    line: int
    span: Span


@dataclass
class Split:
    """The tweets of one split, in file-name order; gold present when ``has_gold``."""

    name: str
    tweets: list[Tweet]
    has_gold: bool
    #: Entities dropped by the type filter, by type.
    dropped_types: Counter[str] = field(default_factory=Counter)
    #: Gold rows the type filter dropped whose type is none the corpus is known to hold
    #: (``PROFESION\0``, a typo): each changes the gold count without being meant to,
    #: so the scorer warns about every one (ACTIVIDAD and FIGURATIVA are expected).
    unknown_type_rows: list[GoldRow] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.tweets)

    def by_id(self) -> dict[str, Tweet]:
        return {t.id: t for t in self.tweets}

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.tweets]


@dataclass
class Corpus:
    """All splits of one distribution, with the entity types that were kept."""

    source: str
    splits: dict[str, Split]
    types: tuple[str, ...]

    def split(self, name: str) -> Split:
        if name not in self.splits:
            have = ", ".join(self.splits) or "none"
            raise HarnessError(f"{self.source}: no split '{name}' (splits here: {have})")
        return self.splits[name]

    def gold_split(self, name: str) -> Split:
        """A split that must carry gold (for training or scoring)."""
        split = self.split(name)
        if not split.has_gold:
            raise HarnessError(f"{self.source}: split '{name}' has no gold annotations")
        return split


def find_root(bundle: Bundle) -> str:
    """The folder inside the bundle that holds ``txt-files/`` ('' for the bundle root)."""
    roots = sorted(
        {n.split("txt-files/", 1)[0] for n in bundle.names() if "txt-files/" in n},
        key=len,
    )
    if not roots:
        raise HarnessError(
            f"{bundle.path}: not a ProfNER-style corpus (no txt-files/ folder inside)"
        )
    root = roots[0]
    if root and not root.endswith("/"):
        raise HarnessError(f"{bundle.path}: unexpected layout near '{root}txt-files/'")
    return root


def load_corpus(
    path: str | os.PathLike[str],
    types: Sequence[str] | None = EVALUATED_TYPES,
    splits: Iterable[str] | None = None,
) -> Corpus:
    """Read a corpus from a zip or folder.

    ``types`` keeps only those entity types (default: the two ProfNER evaluates; ``None``
    keeps all). ``splits`` restricts reading to some splits (default: all present).
    """
    with Bundle(path) as bundle:
        root = find_root(bundle)
        present = bundle.subfolders(root + "txt-files")
        order = [s for s in KNOWN_SPLITS if s in present] + sorted(
            s for s in present if s not in KNOWN_SPLITS
        )
        wanted = list(order if splits is None else [s for s in order if s in set(splits)])
        if splits is not None:
            missing = [s for s in splits if s not in present]
            if missing:
                raise HarnessError(
                    f"{path}: no split {', '.join(missing)} (splits here: {', '.join(order)})"
                )
        keep = None if types is None else tuple(types)
        read = {name: _read_split(bundle, root, name, keep) for name in wanted}
        all_types = keep if keep is not None else _types_seen(read.values())
        return Corpus(source=str(path), splits=read, types=all_types)


def _types_seen(splits: Iterable[Split]) -> tuple[str, ...]:
    seen = Counter(s.type for split in splits for t in split.tweets for s in t.spans or ())
    ordered = [t for t in EVALUATED_TYPES if t in seen]
    return tuple(ordered + sorted(t for t in seen if t not in EVALUATED_TYPES))


def _read_split(bundle: Bundle, root: str, name: str, keep: tuple[str, ...] | None) -> Split:
    text_files = [n for n in bundle.children(f"{root}txt-files/{name}") if n.endswith(".txt")]
    if not text_files:
        raise HarnessError(f"{bundle.where(f'{root}txt-files/{name}')}: no .txt files")
    for n in text_files:
        check_tweet_id(stem(n), bundle.where(n))
    texts = {stem(n): bundle.read_text(n) for n in text_files}

    labels_name = f"{root}subtask-1/{name}.tsv"
    spans_tsv = f"{root}subtask-2/tsv/{name}.tsv"
    brat_dir = f"{root}subtask-2/brat/{name}"
    labels = _read_7a_gold(bundle, labels_name, texts) if bundle.exists(labels_name) else None
    if bundle.exists(spans_tsv):
        spans = _read_7b_gold_tsv(bundle, spans_tsv, texts)
    elif bundle.children(brat_dir):
        spans = _read_7b_gold_brat(bundle, brat_dir, texts)
    else:
        spans = None

    dropped: Counter[str] = Counter()
    unknown: list[GoldRow] = []
    tweets = []
    for tweet_id in sorted(texts):
        tweet_spans = None
        if spans is not None:
            rows = spans.get(tweet_id, [])
            if keep is None:
                tweet_spans = tuple(row.span for row in rows)
            else:
                tweet_spans = tuple(row.span for row in rows if row.span.type in keep)
                dropped.update(row.span.type for row in rows if row.span.type not in keep)
                unknown += [
                    row
                    for row in rows
                    if row.span.type not in keep and row.span.type not in ALL_PROFNER_TYPES
                ]
        label = labels.get(tweet_id) if labels is not None else None
        tweets.append(Tweet(tweet_id, texts[tweet_id], label, tweet_spans))
    if labels is not None:
        unlabelled = [t.id for t in tweets if t.label is None]
        if unlabelled:
            raise HarnessError(
                f"{bundle.where(labels_name)}: no label for {len(unlabelled)} tweet(s) of "
                f"txt-files/{name}, e.g. {shown(unlabelled[0])}"
            )
    return Split(
        name,
        tweets,
        has_gold=labels is not None or spans is not None,
        dropped_types=dropped,
        unknown_type_rows=sorted(unknown, key=lambda row: (row.where, row.line)),
    )


def _tsv_rows(
    bundle: Bundle, name: str, header: tuple[str, ...]
) -> Iterable[tuple[int, list[str]]]:
    """Yield (line number, fields) of a gold TSV after checking its header."""
    where = bundle.where(name)
    lines = bundle.read_text(name, strip_bom=True).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise HarnessError(f"{where}: empty file")
    first = tuple(f.strip() for f in lines[0].rstrip("\r").split("\t"))
    if first[: len(header)] != header:
        raise HarnessError(f"{where}:1: expected header {' '.join(header)!r}, got {first!r}")
    for number, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            raise HarnessError(
                f"{where}:{number}: expected {len(header)} tab-separated fields, got {len(fields)}"
            )
        yield number, fields


def _read_7a_gold(bundle: Bundle, name: str, texts: dict[str, str]) -> dict[str, int]:
    where = bundle.where(name)
    labels: dict[str, int] = {}
    for number, (tweet_id, label) in _tsv_rows(bundle, name, TSV_7A_HEADER):
        tweet_id, label = tweet_id.strip(), label.strip()
        if tweet_id not in texts:
            raise HarnessError(f"{where}:{number}: tweet {shown(tweet_id)} has no text file")
        if label not in ("0", "1"):
            raise HarnessError(f"{where}:{number}: label must be 0 or 1, got {label!r}")
        if tweet_id in labels:
            raise HarnessError(f"{where}:{number}: tweet {shown(tweet_id)} labelled twice")
        labels[tweet_id] = int(label)
    return labels


def _checked_span(text: str, begin: str, end: str, etype: str, where: str) -> Span:
    try:
        b, e = int(begin), int(end)
    except ValueError:
        raise HarnessError(f"{where}: offsets must be integers, got {begin!r} {end!r}") from None
    if not (0 <= b < e <= len(text)):
        raise HarnessError(f"{where}: span {b}-{e} outside the text (length {len(text)}) or empty")
    if not etype:
        raise HarnessError(f"{where}: empty entity type")
    return Span(b, e, etype)


def _read_7b_gold_tsv(bundle: Bundle, name: str, texts: dict[str, str]) -> dict[str, list[GoldRow]]:
    where = bundle.where(name)
    spans: dict[str, list[GoldRow]] = {}
    for number, fields in _tsv_rows(bundle, name, TSV_7B_HEADER):
        tweet_id, begin, end, etype = (f.strip() for f in fields[:4])
        extraction = fields[4]
        if tweet_id not in texts:
            raise HarnessError(f"{where}:{number}: tweet {shown(tweet_id)} has no text file")
        if begin == "-" and end == "-":
            spans.setdefault(tweet_id, [])
            continue
        text = texts[tweet_id]
        span = _checked_span(text, begin, end, etype, f"{where}:{number}")
        if text[span.begin : span.end] != extraction:
            raise HarnessError(
                f"{where}:{number}: extraction {extraction!r} differs from the text at "
                f"{span.begin}-{span.end} ({text[span.begin : span.end]!r})"
            )
        spans.setdefault(tweet_id, []).append(GoldRow(where, number, span))
    return spans


def _read_7b_gold_brat(
    bundle: Bundle, folder: str, texts: dict[str, str]
) -> dict[str, list[GoldRow]]:
    spans: dict[str, list[GoldRow]] = {}
    for name in bundle.children(folder):
        if not name.endswith(".ann"):
            continue
        tweet_id = stem(name)
        where = bundle.where(name)
        if tweet_id not in texts:
            raise HarnessError(f"{where}: tweet {shown(tweet_id)} has no text file")
        spans[tweet_id] = _brat_rows(bundle.read_text(name), texts[tweet_id], where)
    return spans


def parse_brat(ann: str, text: str, where: str) -> list[Span]:
    """Parse the text-bound (``T``) annotations of a brat ``.ann`` file.

    Other annotation kinds (attributes, relations, notes) are ignored. Discontinuous
    spans (``B E;B E``) have no TSV equivalent and are rejected with their line.
    """
    return [row.span for row in _brat_rows(ann, text, where)]


def _brat_rows(ann: str, text: str, where: str) -> list[GoldRow]:
    """:func:`parse_brat` keeping each span's line, for warnings about dropped rows."""
    spans = []
    for number, line in enumerate(ann.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.startswith("T"):
            continue
        parts = line.split("\t")
        if len(parts) < 2:
            raise HarnessError(f"{where}:{number}: malformed brat line {line!r}")
        if ";" in parts[1]:
            raise HarnessError(f"{where}:{number}: discontinuous spans are not supported")
        head = parts[1].split(" ")
        if len(head) != 3:
            raise HarnessError(f"{where}:{number}: expected 'TYPE BEGIN END', got {parts[1]!r}")
        span = _checked_span(text, head[1], head[2], head[0], f"{where}:{number}")
        if len(parts) >= 3 and parts[2] != text[span.begin : span.end]:
            raise HarnessError(
                f"{where}:{number}: mention {parts[2]!r} differs from the text at "
                f"{span.begin}-{span.end} ({text[span.begin : span.end]!r})"
            )
        spans.append(GoldRow(where, number, span))
    return spans
