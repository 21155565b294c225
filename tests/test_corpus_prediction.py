"""``harness predict --input``: every input format, bad rows, restarts after a kill,
flat memory, and the same output from Ray Data on a local cluster."""

from __future__ import annotations

import csv
import gc
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.corpus import load_corpus
from core.datasets import SAMPLE_CORPUS
from core.tweet_sources import Fields, expand_inputs
from core.tweets import Tweet
from harness import registry
from harness.cli import main
from harness.corpus_prediction import PredictionJob, open_job_folder, run_job
from submissions import span_rows
from tests.helpers import SMALL_RNN

DEFAULT_FIELDS = Fields()
HARNESS = str(Path(sys.executable).parent / "harness")


def invoke(*args: str):
    return CliRunner().invoke(main, [*args])


@pytest.fixture(scope="module")
def sample_tweets() -> list[Tweet]:
    corpus = load_corpus(SAMPLE_CORPUS)
    return [tweet for name in ("train", "valid", "test") for tweet in corpus.split(name).tweets]


@pytest.fixture(scope="module")
def lookup_model(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("lookup") / "run"
    result = invoke("run", "--system", "lookup", "--out", str(run), "--no-progress")
    assert result.exit_code == 0, result.output
    return run / "model"


@pytest.fixture(scope="module")
def rnn_model(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("rnn") / "run"
    options = [f"-o{k}={v}" for k, v in {**SMALL_RNN, "epochs": 2}.items()]
    result = invoke("run", "--system", "rnn", "--out", str(run), "--no-progress", *options)
    assert result.exit_code == 0, result.output
    return run / "model"


def many(tweets: list[Tweet], count: int) -> list[Tweet]:
    """``count`` tweets with new ids, cycling through ``tweets``' texts."""
    return [Tweet(f"m{i:07d}", tweets[i % len(tweets)].text) for i in range(count)]


def write_input(path: Path, tweets: list[Tweet], fields: Fields = DEFAULT_FIELDS) -> Path:
    """``tweets`` in the format ``path``'s name gives."""
    name = path.name.removesuffix(".gz")
    records = [{fields.id: t.id, fields.text: t.text} for t in tweets]
    if name.endswith(".parquet"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(records), path)
        return path
    if name.endswith(".jsonl"):
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    elif name.endswith(".tsv"):  # one row per line, no quoting: a quote is text
        lines = [f"{fields.id}\t{fields.text}", *(f"{t.id}\t{t.text}" for t in tweets)]
        data = "\n".join(lines) + "\n"
    else:
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([fields.id, fields.text])
            writer.writerows([t.id, t.text] for t in tweets)
        data = path.read_text(encoding="utf-8")
    raw = data.encode("utf-8")
    path.write_bytes(gzip.compress(raw) if path.name.endswith(".gz") else raw)
    return path


def expected_rows(model: Path, tweets: list[Tweet]) -> list[dict]:
    system = registry.load_saved(model)
    return span_rows.span_rows(system.predict(tweets), tweets)


def output_rows(out: Path) -> list[dict]:
    return list(span_rows.read_rows(out / "spans"))


def bad_rows_of(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "bad_rows.jsonl").open(encoding="utf-8")]


def ordered(rows: list[dict]) -> list[tuple]:
    return sorted(
        tuple("" if row[k] is None else row[k] for k in span_rows.COLUMNS) for row in rows
    )


def predict(model: Path, out: Path, *inputs: Path | str, extra: tuple[str, ...] = ()):
    args = ["predict", str(model), "--out", str(out), "--no-progress"]
    for given in inputs:
        args += ["--input", str(given)]
    return invoke(*args, *extra)


# -- formats ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["t.jsonl", "t.jsonl.gz", "t.csv", "t.csv.gz", "t.tsv", "t.parquet"]
)
def test_every_input_format_gives_the_systems_predictions(
    tmp_path, lookup_model, sample_tweets, name
):
    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    tweets = sample_tweets
    if ".tsv" in name:  # a TSV row is a line: a text with a newline cannot be in one
        tweets = [t for t in sample_tweets if "\n" not in t.text and "\t" not in t.text]
    source = write_input(tmp_path / name, tweets)
    result = predict(lookup_model, tmp_path / "out", source, extra=("--chunk-size", "10"))
    assert result.exit_code == 0, result.output
    assert output_rows(tmp_path / "out") == expected_rows(lookup_model, tweets)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["tweets"] == len(tweets) and summary["chunks"] == -(-len(tweets) // 10)
    assert f"{len(tweets)} tweets predicted" in result.output


def test_named_fields_a_quoted_newline_and_a_folder_of_files(tmp_path, lookup_model, sample_tweets):
    fields = ("--id-field", "id_str", "--text-field", "full_text")
    tweets = [*sample_tweets[:20], Tweet("nl", "el médico\nde guardia"), *sample_tweets[20:30]]
    folder = tmp_path / "in"
    (folder / "b").mkdir(parents=True)
    write_input(folder / "a.jsonl", tweets[:12], Fields("id_str", "full_text"))
    write_input(folder / "b" / "c.csv", tweets[12:], Fields("id_str", "full_text"))
    (folder / "notes.txt").write_text("not an input", encoding="utf-8")
    result = predict(lookup_model, tmp_path / "out", folder, extra=fields)
    assert result.exit_code == 0, result.output
    assert output_rows(tmp_path / "out") == expected_rows(lookup_model, tweets)


def test_a_corpus_split_and_its_submission_files(tmp_path, lookup_model):
    result = predict(
        lookup_model, tmp_path / "out", "sample", extra=("--split", "valid", "--submission")
    )
    assert result.exit_code == 0, result.output
    valid = load_corpus(SAMPLE_CORPUS).split("valid").tweets
    assert output_rows(tmp_path / "out") == expected_rows(lookup_model, valid)
    old = invoke(
        "predict", str(lookup_model), "--data", "sample", "--split", "valid",
        "--out", str(tmp_path / "old"), "--no-progress",
    )  # fmt: skip
    assert old.exit_code == 0, old.output
    for name in ("task7a.tsv", "task7b.tsv", "brat.zip"):
        written = (tmp_path / "out" / "submission" / name).read_bytes()
        assert written == (tmp_path / "old" / name).read_bytes(), name


def test_parquet_output_holds_the_jsonl_rows(tmp_path, lookup_model, sample_tweets):
    pytest.importorskip("pyarrow")
    source = write_input(tmp_path / "t.jsonl", sample_tweets)
    assert predict(lookup_model, tmp_path / "j", source).exit_code == 0
    result = predict(lookup_model, tmp_path / "p", source, extra=("--format", "parquet"))
    assert result.exit_code == 0, result.output
    assert [p.suffix for p in span_rows.part_files(tmp_path / "p" / "spans")] == [".parquet"]
    assert output_rows(tmp_path / "p") == output_rows(tmp_path / "j")


# -- bad rows ----------------------------------------------------------------------------------


def hostile_jsonl(path: Path, tweets: list[Tweet]) -> Path:
    good = [json.dumps({"id": t.id, "text": t.text}).encode() for t in tweets[:4]]
    lines = [
        good[0],
        b'{"id": "a1"}',  # 2: no text
        b'{"id": "a2", "text": "   "}',  # 3: blank text
        b'{"id": "a3", "text": "caf\xe9 con leche"}',  # 4: Latin-1 bytes
        b'{"id": "a4", "text": ',  # 5: cut short
        good[1],
        b"",  # a blank line is no row
        json.dumps({"id": tweets[0].id, "text": "otra vez"}).encode(),  # 8: duplicate
        json.dumps({"id": "a5", "text": "x" * 10_001}).encode(),  # 9: too long
        b'["a6", "una lista"]',  # 10: not an object
        json.dumps({"text": "sin id"}).encode(),  # 11: no id
        json.dumps({"id": "a\t7", "text": "tab en el id"}).encode(),  # 12
        good[2],
        good[3],
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_bad_rows_are_counted_listed_with_their_line_and_skipped(
    tmp_path, lookup_model, sample_tweets
):
    source = hostile_jsonl(tmp_path / "t.jsonl", sample_tweets)
    result = predict(lookup_model, tmp_path / "out", source)
    assert result.exit_code == 0, result.output
    bad = bad_rows_of(tmp_path / "out")
    assert [(b["where"], b["kind"]) for b in bad] == [
        (f"{source}:2", "no text"),
        (f"{source}:3", "no text"),
        (f"{source}:4", "unreadable"),
        (f"{source}:5", "unreadable"),
        (f"{source}:8", "duplicate id"),
        (f"{source}:9", "too long"),
        (f"{source}:10", "unreadable"),
        (f"{source}:11", "no id"),
        (f"{source}:12", "unwritable id"),
    ]
    assert "not UTF-8" in bad[2]["reason"] and f"first at {source}:1" in bad[4]["reason"]
    assert "10001 characters" in bad[5]["reason"]
    assert "9 bad rows skipped" in result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["bad_rows"] == 9 and summary["bad_rows_by_kind"]["no text"] == 2
    assert output_rows(tmp_path / "out") == expected_rows(lookup_model, sample_tweets[:4])


def test_bad_csv_rows_and_fail_on_the_first(tmp_path, lookup_model, sample_tweets):
    source = tmp_path / "t.csv"
    source.write_bytes(
        b'id,text\n1,el m\xe9dico\n2,uno,de m\xc3\xa1s\n3,\n4,"la enfermera\ndel turno"\n'
    )
    result = predict(lookup_model, tmp_path / "out", source)
    assert result.exit_code == 0, result.output
    bad = bad_rows_of(tmp_path / "out")
    assert [(b["where"], b["kind"]) for b in bad] == [
        (f"{source}:2", "unreadable"),
        (f"{source}:3", "unreadable"),
        (f"{source}:4", "no text"),
    ]
    assert [row["id"] for row in output_rows(tmp_path / "out")] == ["4"]
    failed = predict(lookup_model, tmp_path / "fail", source, extra=("--on-bad-row", "fail"))
    assert failed.exit_code == 2
    assert failed.output.strip().splitlines() == [
        f"harness: error: {source}:2: undecodable bytes (not UTF-8) "
        "(--on-bad-row skip counts such rows and goes on)"
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("t.csv", "id,body\n1,hola\n", "t.csv:1: no column 'text' in the header ('id', 'body')"),
        ("t.xml", "<tweets/>", "unknown format"),
        ("t.parquet", "not parquet", "not a readable Parquet file"),
    ],
)
def test_inputs_that_cannot_be_read_stop_in_one_line(
    tmp_path, lookup_model, name, content, message
):
    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    source = tmp_path / name
    source.write_text(content, encoding="utf-8")
    result = predict(lookup_model, tmp_path / "out", source)
    assert result.exit_code == 2 and message in result.output
    assert len(result.output.strip().splitlines()) == 1
    missing = predict(lookup_model, tmp_path / "out2", tmp_path / "nowhere.jsonl")
    assert missing.exit_code == 2 and "no such file or folder" in missing.output


def test_input_and_data_together_are_refused(tmp_path, lookup_model, sample_tweets):
    source = write_input(tmp_path / "t.jsonl", sample_tweets)
    result = predict(lookup_model, tmp_path / "out", source, extra=("--data", "sample"))
    assert result.exit_code == 2 and "not both" in result.output


# -- restarts ----------------------------------------------------------------------------------


def part_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in span_rows.part_files(out / "spans")}


def test_a_killed_run_resumes_and_ends_as_an_uninterrupted_one(
    tmp_path, lookup_model, sample_tweets
):
    tweets = many(sample_tweets, 30_000)
    source = write_input(tmp_path / "t.jsonl", tweets)
    with source.open("a", encoding="utf-8") as handle:
        handle.write('{"id": "m0000003", "text": "repetido"}\n')  # a bad row, near the end
    args = [HARNESS, "predict", str(lookup_model), "--input", str(source), "--chunk-size", "200"]
    whole = subprocess.run([*args, "--out", str(tmp_path / "whole"), "--no-progress"], check=True)
    assert whole.returncode == 0
    out = tmp_path / "killed"
    child = subprocess.Popen([*args, "--out", str(out), "--no-progress"])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if (out / "spans").is_dir() and len(list((out / "spans").glob("part-*"))) >= 5:
            break
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert not (out / "summary.json").exists(), "the run ended before it could be killed"
    done = len(list((out / "spans").glob("part-*")))
    assert 5 <= done < 150
    again = subprocess.run(
        [*args, "--out", str(out), "--no-progress"], capture_output=True, text=True, check=True
    )
    assert "resuming" in again.stdout
    assert part_bytes(out) == part_bytes(tmp_path / "whole")
    for name in ("bad_rows.jsonl", "job.json"):
        assert (out / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["resumed_chunks"] >= done - 1 and summary["tweets"] == 30_000
    assert summary["predicted_now"] == 30_000 - 200 * summary["resumed_chunks"]
    assert not list(out.rglob("*.tmp")) and not (out / ".work").exists()


def test_an_interrupted_chunk_leaves_no_part(tmp_path, lookup_model, sample_tweets, monkeypatch):
    source = write_input(tmp_path / "t.jsonl", many(sample_tweets, 100))
    job = PredictionJob(lookup_model, tuple(expand_inputs([str(source)])), chunk_size=30)
    system = registry.load_saved(lookup_model)
    calls = {"n": 0}
    real = system.predict

    def dies_on_the_third(tweets):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(tweets)

    monkeypatch.setattr(system, "predict", dies_on_the_third)
    out = tmp_path / "out"
    assert open_job_folder(out, job, force=False) is False
    with pytest.raises(KeyboardInterrupt):
        run_job(system, job, out)
    assert [p.name for p in span_rows.part_files(out / "spans")] == [
        "part-000000.jsonl",
        "part-000001.jsonl",
    ]
    assert not (out / "summary.json").exists()
    monkeypatch.setattr(system, "predict", real)
    assert open_job_folder(out, job, force=False) is True
    summary = run_job(system, job, out)
    assert summary.resumed_chunks == 2 and summary.predicted_now == 40
    assert output_rows(out) == expected_rows(lookup_model, many(sample_tweets, 100))


def test_another_job_in_the_folder_is_never_resumed(tmp_path, lookup_model, sample_tweets):
    source = write_input(tmp_path / "t.jsonl", sample_tweets)
    assert predict(lookup_model, tmp_path / "out", source).exit_code == 0
    other = predict(lookup_model, tmp_path / "out", source, extra=("--chunk-size", "7"))
    assert other.exit_code == 2 and "another job (chunk_size differs)" in other.output
    forced = predict(lookup_model, tmp_path / "out", source, extra=("--chunk-size", "7", "--force"))
    assert forced.exit_code == 0 and "resuming" not in forced.output
    assert len(span_rows.part_files(tmp_path / "out" / "spans")) == 10
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work", encoding="utf-8")
    refused = predict(lookup_model, mine, source, extra=("--force",))
    assert refused.exit_code == 2 and (mine / "thesis.tex").exists()


# -- memory ------------------------------------------------------------------------------------


def test_memory_does_not_grow_with_the_input(tmp_path, lookup_model, sample_tweets, monkeypatch):
    """The live memory at each part file written stays flat over 80 chunks: a list of
    the tweets, or a set of their ids, would add megabytes by the end."""
    import harness.corpus_prediction as job_module

    source = write_input(tmp_path / "t.jsonl", many(sample_tweets, 40_000))
    job = PredictionJob(lookup_model, tuple(expand_inputs([str(source)])), chunk_size=500)
    system = registry.load_saved(lookup_model)
    live: list[int] = []
    real = job_module.write_part

    def measured(path, rows, fmt):
        gc.collect()
        live.append(tracemalloc.get_traced_memory()[0])
        return real(path, rows, fmt)

    monkeypatch.setattr(job_module, "write_part", measured)
    open_job_folder(tmp_path / "out", job, force=False)
    tracemalloc.start()
    try:
        run_job(system, job, tmp_path / "out")
    finally:
        tracemalloc.stop()
    assert len(live) == 80
    assert live[-1] - live[9] < 200_000, live[9::10]


# -- Ray Data ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """A Ray cluster of one node on 127.0.0.1, started and stopped by the test."""
    pytest.importorskip("ray.data")
    port = free_port()
    temp = Path("/tmp") / f"hr-{os.getpid()}"  # Ray's socket paths must stay short
    ray = str(Path(sys.executable).parent / "ray")
    head = subprocess.Popen(
        [ray, "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
         "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
         f"--temp-dir={temp}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "RAY_AUTH_MODE": "disabled"},
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or head.poll() is not None:
                head.kill()
                pytest.fail("the local Ray head did not start")
            time.sleep(0.5)
    yield f"127.0.0.1:{port}"
    head.send_signal(signal.SIGTERM)
    try:
        head.wait(timeout=60)
    except subprocess.TimeoutExpired:
        head.kill()


def test_ray_data_gives_the_one_process_output_span_for_span(
    tmp_path, rnn_model, sample_tweets, local_ray
):
    tweets = many(sample_tweets, 300)
    inputs = tmp_path / "in"
    inputs.mkdir()
    write_input(inputs / "a.jsonl", tweets[:200])
    hostile_jsonl(inputs / "b.jsonl", tweets[200:])
    write_input(inputs / "c.csv", [*tweets[250:], Tweet("m0000001", "dup")])
    one = predict(rnn_model, tmp_path / "one", inputs, extra=("--chunk-size", "64"))
    assert one.exit_code == 0, one.output
    on_ray = predict(
        rnn_model, tmp_path / "ray", inputs, extra=("--chunk-size", "64", "--ray", local_ray)
    )
    assert on_ray.exit_code == 0, on_ray.output
    assert "Ray, 2 actors" in on_ray.output
    assert ordered(output_rows(tmp_path / "ray")) == ordered(output_rows(tmp_path / "one"))
    for name in ("bad_rows.jsonl",):
        assert (tmp_path / "ray" / name).read_text() == (tmp_path / "one" / name).read_text()
    summaries = [
        json.loads((tmp_path / mode / "summary.json").read_text(encoding="utf-8"))
        for mode in ("one", "ray")
    ]
    for key in ("tweets", "positive_tweets", "spans", "bad_rows", "bad_rows_by_kind"):
        assert summaries[0][key] == summaries[1][key], key
    assert summaries[1]["bad_rows"] >= 10


def test_what_ray_cannot_take_is_refused_before_ray_starts(tmp_path, lookup_model, sample_tweets):
    pytest.importorskip("ray.data")
    source = write_input(tmp_path / "t.jsonl", sample_tweets)
    corpus = predict(lookup_model, tmp_path / "a", "sample", extra=("--ray",))
    assert corpus.exit_code == 2 and "sample is a corpus" in corpus.output
    split = invoke("predict", str(lookup_model), "--out", str(tmp_path / "b"), "--ray")
    assert split.exit_code == 2 and "--ray predicts --input files" in split.output
    unreachable = predict(lookup_model, tmp_path / "c", source, extra=("--ray", "127.0.0.1:1"))
    assert unreachable.exit_code == 2
    assert "cannot reach the Ray cluster at 127.0.0.1:1" in unreachable.output
    submission = predict(lookup_model, tmp_path / "d", source, extra=("--ray", "--submission"))
    assert submission.exit_code == 2 and "--submission needs one process" in submission.output
