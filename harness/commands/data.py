"""``harness data``: what is in a corpus, and whether its entities survive tokenisation."""

from __future__ import annotations

import json

import click

from core.display import shown
from core.tagging import SCHEMES
from harness.commands.common import DATA_HELP, all_types_option, choice_option, open_corpus
from harness.corpus_stats import corpus_stats

HELP = (
    "Report per split: tweets, 7a positives, entities per type, overlapping entity "
    "pairs, duplicate rows, and the alignment check.\n\n"
    "The alignment check tokenises every tweet with the harness's spaCy Spanish tokenizer, "
    "converts the gold spans to tags and back, and counts the entities that come back "
    "identical; beside it, how many entity boundaries spaCy's default tokenizer would have "
    "cut through.\n\nCORPUS: " + DATA_HELP
)


@click.command("data", help=HELP)
@click.argument("corpus", default="sample", metavar="[CORPUS]")
@all_types_option
@choice_option("--scheme", SCHEMES, default="BIO", help="Tag scheme used for the round-trip check.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def command(corpus: str, all_types: bool, scheme: str, as_json: bool) -> None:
    stats = corpus_stats(open_corpus(corpus, all_types), scheme)
    if as_json:
        click.echo(json.dumps(stats, indent=2, ensure_ascii=False))
        return
    types = ", ".join(shown(t) for t in stats["types"])
    click.echo(f"corpus: {stats['source']}  types: {types}  scheme: {scheme}")
    for name, s in stats["splits"].items():
        click.echo(f"\n[{name}] tweets: {s['tweets']}")
        if not s["has_gold"]:
            click.echo("  no gold annotations (text only)")
            continue
        click.echo(f"  7a positives: {s['positives']}")
        entities = ", ".join(f"{shown(t)}={n}" for t, n in s["entities"].items()) or "none"
        click.echo(f"  entities: {sum(s['entities'].values())} ({entities})")
        if s["dropped_types"]:
            dropped = ", ".join(f"{shown(t)}={n}" for t, n in s["dropped_types"].items())
            click.echo(f"  not evaluated, dropped: {dropped} (use --all-types to keep)")
        click.echo(
            f"  overlapping pairs: {s['overlapping_pairs']}  "
            f"duplicate rows: {s['duplicate_entities']}"
        )
        a = s["alignment"]
        click.echo(
            f"  round trip brat->{scheme}->brat: {a['round_trip_identical']}/{a['kept']} "
            f"identical (of {a['entities']} rows: {a['duplicates_collapsed']} duplicate(s) "
            f"collapsed, {a['overlapping_dropped']} overlapping span(s) dropped, longest kept)"
        )
        click.echo(
            f"  entity boundaries inside a token: {a['misaligned']} "
            f"(spaCy's default Spanish tokenizer: {a['misaligned_default_spacy']})"
        )
        for example in a["examples"]:
            click.echo(f"    not recovered: {example}")
