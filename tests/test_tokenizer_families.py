"""BERT WordPiece, RoBERTa byte-level BPE and XLM-R SentencePiece in every transformer system.

Each family is a tiny encoder the test builds; the checks are the ones that go wrong
silently: a pre-split word must get the first piece it has in running text (byte-level
BPE needs the leading-space form), windows must fit the real position table (RoBERTa's
starts at ``padding_idx + 1``) and the special tokens are the tokenizer's own.
"""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from core.errors import HarnessError
from core.tweets import EVALUATED_TYPES, Tweet
from harness import registry
from systems.neural.encoders import load_pretrained_encoder, load_tokenizer, position_limit
from systems.neural.examples import TagCodec, make_examples
from systems.neural.subwords import SubwordEncoder
from tests import test_transformer
from tests.test_transformer import LONG_TEXT
from tests.tiny_bert import save_tiny_bert
from tests.tiny_encoders import POSITIONS, save_tiny_roberta, save_tiny_xlmr

corpus, texts, offline = test_transformer.corpus, test_transformer.texts, test_transformer.offline

FAMILIES = {"bert": save_tiny_bert, "roberta": save_tiny_roberta, "xlm-r": save_tiny_xlmr}
#: the start-of-word marker a family's first piece of a word carries
WORD_START = {"bert": "", "roberta": "Ġ", "xlm-r": "▁"}
WORDS = ["El", "médico", "trabaja", "en", "el", "hospital", "con", "enfermeras"]


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family(request, tmp_path_factory, texts):
    folder = tmp_path_factory.mktemp(request.param) / "encoder"
    return request.param, FAMILIES[request.param](folder, texts)


def test_pre_split_words_get_their_running_text_pieces(family):
    name, folder = family
    tokenizer = load_tokenizer(str(folder))
    batch = SubwordEncoder(tokenizer, 64, 16).encode([WORDS])
    ids = batch["input_ids"][0]
    first = ids[batch["word_index"][0]].tolist()
    running = tokenizer(" ".join(WORDS), add_special_tokens=False)
    in_text = {}
    for position, word in enumerate(running.word_ids()):
        in_text.setdefault(word, running["input_ids"][position])
    assert first == [in_text[j] for j in range(len(WORDS))]
    pieces = tokenizer.convert_ids_to_tokens(first)
    assert all(p.startswith(WORD_START[name]) for p in pieces), pieces
    special = tokenizer("el")["input_ids"]  # the tokenizer's own framing of a text
    assert (
        ids[0].item() == special[0]
        and ids[int(batch["attention_mask"][0].sum()) - 1] == (special[-1])
    )


def test_windows_fit_the_real_position_table(family, corpus):
    name, folder = family
    system = test_transformer.make_system(folder)
    system.architecture = system.build(
        make_examples(corpus.split("train").tweets[:2], system.codec, True)
    )
    limit = position_limit(system.encoder().config)
    assert system.architecture["max_length"] == limit
    if name != "bert":
        assert limit == POSITIONS - 2  # padding_idx + 1 rows are never a position
    long = Tweet("long", LONG_TEXT)
    [prediction] = system.predict([long])  # many windows, none past the table
    assert all(span.end <= len(LONG_TEXT) for span in prediction.spans)


@pytest.mark.parametrize(
    "system_name", ["transformer", "bert-softmax", "contrastive", "hf-token-classification"]
)
def test_every_system_trains_saves_and_loads_on_every_family(family, system_name, corpus, tmp_path):
    _, folder = family
    options = {"model": str(folder), "epochs": 1, "lr": 1e-3, "warmup_steps": 0, "batch_size": 4}
    if system_name == "contrastive":
        options.update(pretrain_epochs=1, pretrain_batch_size=4, gaussian_dim=8)
    cls = registry.get(system_name)
    system = cls(cls.Config(**options)).fit(corpus.split("train").tweets[:12])
    valid = corpus.split("valid").tweets
    predictions = system.predict(valid)
    system.save(tmp_path / "model")
    assert registry.load_saved(tmp_path / "model").predict(valid) == predictions


def test_unusable_checkpoints_stop_with_one_line(tmp_path, texts):
    head_only = save_tiny_bert(tmp_path / "head-only", texts[:20])
    save_file(
        {"classifier.weight": torch.zeros(2, 32)},
        str(head_only / "model.safetensors"),
    )
    truncated = save_tiny_bert(tmp_path / "truncated", texts[:20])
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    for folder, message in ((head_only, "lacks"), (truncated, "cannot load model")):
        with pytest.raises(HarnessError, match=message) as caught:
            load_pretrained_encoder(str(folder), show_progress=False)
        assert "\n" not in str(caught.value)


@pytest.mark.parametrize("policy", ["train", "freeze", "corpus"])
def test_embedding_table_policies(policy, corpus, tmp_path, texts):
    folder = save_tiny_xlmr(tmp_path / "xlmr", texts)
    pretrained = load_pretrained_encoder(str(folder), show_progress=False)[0]
    table = pretrained.get_input_embeddings().weight.detach().clone()
    system = test_transformer.make_system(folder, embeddings=policy, lr=1e-2)
    train = corpus.split("train").tweets[:12]
    system.fit(train)
    trained = system.encoder().get_input_embeddings().weight.detach()
    if policy == "freeze":
        assert torch.equal(trained, table)
    elif policy == "train":
        assert trained.shape == table.shape and not torch.equal(trained, table)
    else:
        kept = system.piece_map.kept
        assert trained.shape[0] == len(kept) < table.shape[0]
        assert system.architecture["kept_pieces"] == len(kept)
        # a piece no training tweet has is read as the unknown piece
        unseen = next(i for i in range(table.shape[0]) if i not in set(kept))
        unk = system.tokenizer.unk_token_id
        assert system.piece_map(torch.tensor([unseen])).item() == kept.index(unk)
    valid = corpus.split("valid").tweets
    predictions = system.predict(valid)
    system.save(tmp_path / "model")
    assert registry.load_saved(tmp_path / "model").predict(valid) == predictions


def test_one_call_tokenising_gives_the_windowed_paths_tensors(family, corpus):
    """``encode`` tokenises a batch of tweets that fit one window in one call to the
    Rust tokenizer; it must give exactly what the general (windowed) path gives, and
    leave batches with dropped words or long documents to that path."""
    _, folder = family
    tokenizer = load_tokenizer(str(folder))
    encoder = SubwordEncoder(tokenizer, 64, 16)
    tweets = [t for split in ("train", "valid") for t in corpus.split(split).tweets]
    examples = make_examples(tweets, TagCodec(EVALUATED_TYPES, "BIO"), False)
    batches = [[[t.text for t in e.tokens] for e in examples]]
    batches += [[WORDS, []], [["médico"]], [WORDS, ["\n", "médico", "  "]], [WORDS * 20]]
    taken = []
    for batch in batches:
        whole = encoder._encode_whole(batch)
        taken.append(whole is not None)
        windowed = encoder.encode_windows(batch)
        got = encoder.encode(batch)
        assert got.keys() == windowed.keys()
        for key, value in windowed.items():
            assert torch.equal(got[key], value), key
    assert taken[1:4] == [True, True, True]  # an empty document, one word, dropped words
    assert taken[4] is False  # longer than a window
