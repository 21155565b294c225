"""Batching (one ``predict`` over many tweets, length-sorted batches inside, against one
call per tweet), the peak memory of a predictor, and behind ``--bench-long`` the
throughput over all train + valid tweets and the harness predictor against the Hugging
Face token-classification pipeline on the same BERT-base-sized encoder.

Peak memory is a size, not a timing: it is no pytest-benchmark row (its 10 s of process
start would read as a latency) but a figure of the closing summary and of the JSON's
``peak_memory``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from benchmarks.conftest import (
    TARGET_BATCH_SPEEDUP,
    TARGET_PEAK_BYTES,
    TARGET_THROUGHPUT,
    enforce_targets,
    load,
    path_marks,
)
from benchmarks.report import BATCHING, PIPELINE, THROUGHPUT, PeakMemory, path_label
from core.inference_paths import TIMED_PRECISIONS
from core.machine import cpu_supports_bf16

#: tweets of the batching benchmark: enough for full batches, few enough for minutes
BATCHING_TWEETS = 128


@pytest.mark.parametrize("name", ["transformer", "rnn"])
def test_batched_predict_against_one_call_per_tweet(
    benchmark, corpus, reference_folders, machine, name
):
    """Tweets per second of one ``predict`` over many tweets, and its ratio to calling
    ``predict`` once per tweet (timed here too, once)."""
    tweets = corpus.split("valid").tweets[:BATCHING_TWEETS]
    system = load(reference_folders[name], "fp32")
    system.predict(tweets[:4])
    benchmark.group = "batching: one predict() over many tweets"
    started = time.perf_counter()
    for tweet in tweets:
        system.predict([tweet])
    one_by_one = len(tweets) / (time.perf_counter() - started)
    benchmark.pedantic(system.predict, args=(tweets,), rounds=1, iterations=1)
    batched = len(tweets) / benchmark.stats.stats.mean
    benchmark.extra_info.update(
        section=BATCHING,
        system=name,
        tweets=len(tweets),
        batch_size=system.config.predict_batch_size,
        tweets_per_second=round(batched, 1),
        one_call_per_tweet_tweets_per_second=round(one_by_one, 1),
        speedup=round(batched / one_by_one, 2),
        target_speedup=TARGET_BATCH_SPEEDUP,
        parameters=system.parameter_count(),
        cpu=machine,
    )
    if enforce_targets():
        assert batched >= TARGET_BATCH_SPEEDUP * one_by_one


@pytest.mark.long
@pytest.mark.parametrize("precision", TIMED_PRECISIONS)
@pytest.mark.parametrize("name", ["transformer", "rnn"])
def test_batch_throughput(benchmark, corpus, reference_folders, machine, name, precision):
    everything = corpus.gold_split("train").tweets + corpus.gold_split("valid").tweets
    system = load(reference_folders[name], precision)
    benchmark.group = "throughput: all train + valid tweets"
    benchmark.extra_info.update(
        section=THROUGHPUT,
        system=name,
        precision=precision,
        parameters=load(reference_folders[name], "fp32").parameter_count(),
        cpu=machine,
        tweets=len(everything),
        batch_size=system.config.predict_batch_size,
    )
    started = time.perf_counter()
    benchmark.pedantic(system.predict, args=(everything,), rounds=1, iterations=1)
    per_second = len(everything) / (time.perf_counter() - started)
    benchmark.extra_info["tweets_per_second"] = round(per_second, 1)
    if name == "transformer":
        benchmark.extra_info["target_tweets_per_second"] = TARGET_THROUGHPUT
        if enforce_targets() and precision == "int8":
            assert per_second >= TARGET_THROUGHPUT


@pytest.mark.long
@pytest.mark.parametrize("predictor", ["harness", "hf-pipeline"])
def test_single_tweet_harness_vs_hf_pipeline(
    benchmark, reference_folders, tweets, machine, predictor
):
    """Same BERT-base-sized encoder and tokenizer; fp32 both sides."""
    tweet = tweets["median"]
    benchmark.group = "harness against the HF pipeline"
    benchmark.extra_info.update(
        section=PIPELINE, predictor=predictor, tweet_characters=len(tweet.text), cpu=machine
    )
    if predictor == "harness":
        system = load(reference_folders["transformer"], "fp32")
        benchmark.pedantic(system.predict, args=([tweet],), rounds=30, warmup_rounds=3)
        return
    from transformers import AutoTokenizer, BertForTokenClassification, pipeline

    encoder = reference_folders["transformer"].parent / "encoder"
    model = BertForTokenClassification.from_pretrained(str(encoder), num_labels=5).eval()
    tagger = pipeline(
        "token-classification",
        model=model,
        tokenizer=AutoTokenizer.from_pretrained(str(encoder)),
        device="cpu",
    )
    benchmark.pedantic(tagger, args=(tweet.text,), rounds=30, warmup_rounds=3)


# VmHWM, not getrusage's ru_maxrss: Linux keeps ru_maxrss across fork and exec, so a
# child of a big pytest process would report the parent's peak.
PEAK_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from harness import registry
    from core.tweets import Tweet
    system = registry.load_saved(sys.argv[1]).use_precision(sys.argv[2], sys.argv[4])
    system.predict([Tweet("1", sys.argv[3])])
    status = open("/proc/self/status", encoding="ascii").read().splitlines()
    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print(json.dumps({"peak_bytes": peak_kb * 1024}))
    """
)


#: the predictors whose memory is measured: PyTorch's paths, and each engine's fastest
#: (on this CPU kind); an engine that is not installed skips, saying so
MEMORY_PATHS = [
    *(("torch", p) for p in TIMED_PRECISIONS),
    ("onnxruntime", "int8"),
    ("openvino", "bf16" if cpu_supports_bf16() else "int8"),
]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize(
    "path",
    [pytest.param(p, id=f"{p[0]}-{p[1]}", marks=path_marks(*p)) for p in MEMORY_PATHS],
)
def test_transformer_predictor_peak_memory(reference_folders, tweets, record_peak_memory, path):
    """Peak resident memory of a fresh process that loads the model and predicts once
    (an engine's export made beforehand: a user converts once, then predicts)."""
    engine, precision = path
    folder = reference_folders["transformer"]
    if engine != "torch":
        load(folder, precision, engine)  # fills the export cache
    command = [sys.executable, "-c", PEAK_SCRIPT, str(folder), precision, tweets["long"].text]
    command.append(engine)
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    peak = json.loads(out.strip().splitlines()[-1])["peak_bytes"]
    record_peak_memory(
        PeakMemory(
            model="BETO-sized transformer",
            path=path_label(engine, precision),
            megabytes=round(peak / 2**20, 1),
            target_megabytes=TARGET_PEAK_BYTES // 2**20,
        )
    )
    if enforce_targets():
        assert peak < TARGET_PEAK_BYTES
