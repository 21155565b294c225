"""Build small corpora in the ProfNER layout inside a test's tmp folder."""

from __future__ import annotations

import zipfile
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PROFNER_ZIP = SHARED_DATA / "profner.zip"


def write_corpus(
    root: Path,
    tweets: dict[str, dict[str, tuple[str, list[tuple[int, int, str]]]]],
    *,
    with_7a: bool = True,
    with_tsv: bool = True,
    with_brat: bool = False,
    text_bytes: dict[str, bytes] | None = None,
) -> Path:
    """Write ``{split: {id: (text, [(begin, end, type)])}}`` under ``root/profner``.

    ``text_bytes`` overrides a tweet's file content with raw bytes (for encoding tests).
    """
    base = root / "profner"
    for split, items in tweets.items():
        (base / "txt-files" / split).mkdir(parents=True, exist_ok=True)
        rows_7a = ["tweet_id\tlabel"]
        rows_7b = ["tweet_id\tbegin\tend\ttype\textraction"]
        for tweet_id, (text, spans) in items.items():
            raw = (text_bytes or {}).get(tweet_id, text.encode("utf-8"))
            (base / "txt-files" / split / f"{tweet_id}.txt").write_bytes(raw)
            rows_7a.append(f"{tweet_id}\t{1 if spans else 0}")
            rows_7b.extend(f"{tweet_id}\t{b}\t{e}\t{t}\t{text[b:e]}" for b, e, t in spans)
            if not spans:
                rows_7b.append(f"{tweet_id}\t-\t-\t-\t-")
            if with_brat:
                folder = base / "subtask-2" / "brat" / split
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{tweet_id}.ann").write_text(
                    "".join(
                        f"T{i}\t{t} {b} {e}\t{text[b:e]}\n" for i, (b, e, t) in enumerate(spans, 1)
                    ),
                    encoding="utf-8",
                )
        if with_7a:
            (base / "subtask-1").mkdir(parents=True, exist_ok=True)
            (base / "subtask-1" / f"{split}.tsv").write_text(
                "\n".join(rows_7a) + "\n", encoding="utf-8"
            )
        if with_tsv:
            (base / "subtask-2" / "tsv").mkdir(parents=True, exist_ok=True)
            (base / "subtask-2" / "tsv" / f"{split}.tsv").write_text(
                "\n".join(rows_7b) + "\n", encoding="utf-8"
            )
    return root


def zip_folder(folder: Path, target: Path) -> Path:
    """Zip a folder's files with paths relative to it."""
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return target
