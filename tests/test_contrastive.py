"""``--system contrastive``: the Gaussian KL distance and the loss of Eqs. 4-6, the two
training stages, the saved pre-trained encoder and its reuse, on tiny BERTs offline."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch.distributions import Independent, Normal, kl_divergence

from core.errors import HarnessError
from harness import registry
from harness.cli import main
from systems.bert_softmax import BertSoftmaxConfig, BertSoftmaxSystem
from systems.contrastive import (
    ENCODER_FOLDER,
    ContrastiveConfig,
    ContrastiveSystem,
    GaussianPretrainer,
)
from systems.neural import contrastive_loss as cl
from systems.neural.encoder_heads import MultitaskCrfHead, SoftmaxHead
from systems.neural.examples import make_examples
from systems.transformer import TransformerConfig, TransformerSystem
from tests import test_transformer
from tests.helpers import descend

# System 1's test fixtures: one thread, no hub access, the sample corpus, a tiny BERT
offline = test_transformer.offline
corpus, texts, tiny = test_transformer.corpus, test_transformer.texts, test_transformer.tiny


def gaussians(n: int, dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    mu = torch.randn(n, dim, generator=generator, dtype=torch.float64)
    variance = torch.rand(n, dim, generator=generator, dtype=torch.float64) * 2 + 0.1
    return mu, variance


def distribution(mu: torch.Tensor, variance: torch.Tensor) -> Independent:
    return Independent(Normal(mu, variance.sqrt()), 1)


# -- the distance and the loss ----------------------------------------------------------------


def test_kl_and_pairwise_distance_equal_torch_distributions():
    mu, variance = gaussians(7, 5, seed=0)
    p, q = distribution(mu[:, None], variance[:, None]), distribution(mu[None], variance[None])
    reference = kl_divergence(p, q)  # [i, j] = KL(N_i || N_j)
    ours = cl.kl_divergence(mu[:, None], variance[:, None], mu[None], variance[None])
    torch.testing.assert_close(ours, reference)
    distance = cl.pairwise_distance(mu, variance)
    torch.testing.assert_close(distance, 0.5 * (reference + reference.T))
    assert torch.equal(distance, distance.T) and distance.diagonal().abs().max() < 1e-9
    # float32, the precision of training, at the paper's dimension
    mu32, var32 = (t.float() for t in gaussians(40, 128, seed=1))
    reference32 = kl_divergence(
        distribution(mu32[:, None], var32[:, None]), distribution(mu32[None], var32[None])
    )
    torch.testing.assert_close(
        cl.pairwise_distance(mu32, var32), 0.5 * (reference32 + reference32.T), rtol=1e-4, atol=1e-3
    )


def brute_force_loss(mu: torch.Tensor, variance: torch.Tensor, labels: list[int]) -> float:
    """Eqs. 3-6 term by term with torch.distributions."""
    n = len(labels)
    d = [
        [
            0.5
            * (
                kl_divergence(distribution(mu[b], variance[b]), distribution(mu[a], variance[a]))
                + kl_divergence(distribution(mu[a], variance[a]), distribution(mu[b], variance[b]))
            ).item()
            for b in range(n)
        ]
        for a in range(n)
    ]
    terms = []
    for a in range(n):
        positives = [b for b in range(n) if b != a and labels[b] == labels[a]]
        if not positives:
            continue
        numerator = sum(math.exp(-d[a][b]) for b in positives) / len(positives)
        denominator = sum(math.exp(-d[a][b]) for b in range(n) if b != a)
        terms.append(-math.log(numerator / denominator))
    return sum(terms) / len(terms)


def test_loss_equals_equations_4_to_6():
    mu, variance = gaussians(9, 4, seed=2)
    mu = mu * 0.5  # distances of a few units, so no exp() underflows in the reference
    labels = [0, 0, 1, 1, 1, 2, 0, 3, 2]  # label 3 has no positive: it adds no term
    ours = cl.contrastive_loss(mu, variance, torch.tensor(labels)).item()
    assert ours == pytest.approx(brute_force_loss(mu, variance, labels), rel=1e-9)


def test_loss_is_lower_for_separated_classes_than_for_mixed_ones():
    generator = torch.Generator().manual_seed(3)
    labels = torch.arange(4).repeat_interleave(10)
    centres = torch.randn(4, 16, generator=generator) * 4
    mu = centres[labels] + 0.3 * torch.randn(40, 16, generator=generator)
    variance = torch.ones(40, 16)
    separated = cl.contrastive_loss(mu, variance, labels)
    shuffled = labels[torch.randperm(40, generator=generator)]
    mixed = cl.contrastive_loss(mu, variance, shuffled)
    # Eq. 5 averages the positives but sums the denominator: with 9 positives at
    # distance ~0 and every negative far away, the floor is log(9)
    assert separated.item() == pytest.approx(math.log(9), abs=0.01)
    assert mixed > separated + 2.0, (separated, mixed)
    # without positives there is no term, but the loss stays differentiable
    lonely = mu.clone().requires_grad_()
    zero = cl.contrastive_loss(lonely, variance, torch.arange(40))
    zero.backward()
    assert zero.item() == 0.0 and lonely.grad is not None


def test_projection_gives_positive_variances():
    projection = cl.GaussianProjection(8, dim=6)
    with torch.no_grad():
        projection.sigma[1].bias.fill_(-50.0)  # ELU saturates at -1
        mu, variance = projection(torch.randn(3, 5, 8))
    assert mu.shape == variance.shape == (3, 5, 6)
    assert (variance > 0).all() and isinstance(projection.mu[0], torch.nn.ReLU)


# -- the system ---------------------------------------------------------------------------------


def make_system(model: Path, **options) -> ContrastiveSystem:
    settings = {
        "lr": 1e-3,
        "pretrain_lr": 1e-3,
        "epochs": 1,
        "pretrain_epochs": 1,
        "batch_size": 8,
        "pretrain_batch_size": 8,
        "gaussian_dim": 16,
        **options,
    }
    return ContrastiveSystem(ContrastiveConfig(model=str(model), **settings))


def test_defaults_are_the_papers():
    config = ContrastiveConfig()
    assert (config.gaussian_dim, config.pretrain_lr, config.lr, config.max_length) == (
        128,
        5e-5,
        5e-5,
        128,
    )
    assert (config.pretrain_epochs, config.epochs, config.batch_size) == (20, 20, 32)


def test_a_cut_table_is_refused_when_the_encoder_is_saved_for_reuse(tiny, corpus):
    assert ContrastiveConfig().embeddings == "train"
    train = corpus.split("train").tweets[:4]
    with pytest.raises(HarnessError, match=r"^contrastive: embeddings=corpus would save"):
        make_system(tiny, embeddings="corpus").fit(train)
    no_pretraining = make_system(tiny, embeddings="corpus", pretrain_epochs=0).fit(train)
    assert no_pretraining.piece_map is not None  # nothing saved for reuse: the cut is fine


def test_pretraining_lowers_the_contrastive_loss(tiny, corpus):
    tweets = corpus.split("train").tweets
    system = make_system(tiny, pretrain_epochs=0, dropout=0.0)
    examples = make_examples(tweets, system.codec, with_gold=True)
    system.architecture = system.build(examples)
    torch.manual_seed(0)
    model = GaussianPretrainer(system.model.encoder, dim=16).eval()  # no dropout noise
    batch = system.collate(examples, with_gold=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = descend(model, batch, optimizer, 15)
    # the loss cannot fall below the mean log number of positives (see above)
    tags = batch["tags"][batch["word_mask"]]
    positives = (tags[:, None] == tags[None, :]).sum(1) - 1
    floor = positives[positives > 0].float().log().mean().item()
    assert losses[-1] - floor < 0.5 * (losses[0] - floor), (floor, losses)


def test_two_stages_save_a_reusable_encoder(tiny, corpus, tmp_path):
    local = tmp_path / "encoder-copy"
    shutil.copytree(tiny, local)
    train, valid = corpus.split("train").tweets, corpus.split("valid").tweets
    system = make_system(local, pretrain_epochs=2).fit(train, valid)
    stage1 = system.architecture["pretraining"]
    assert [r["epoch"] for r in stage1] == [1, 2] and stage1[1]["contrastive_loss"] > 0
    assert isinstance(system.model.head, SoftmaxHead) and system.labels_from_spans
    system.save(tmp_path / "model")
    encoder_folder = tmp_path / "model" / ENCODER_FOLDER
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        assert (encoder_folder / name).is_file()

    from transformers import AutoModel

    pretrained = AutoModel.from_pretrained(str(encoder_folder))
    before = AutoModel.from_pretrained(str(local))
    fine_tuned = system.model.encoder.state_dict()
    key = "encoder.layer.0.attention.self.query.weight"
    assert torch.equal(pretrained.state_dict()[key], system.pretrained_encoder.state_dict()[key])
    assert not torch.equal(pretrained.state_dict()[key], before.state_dict()[key])
    assert not torch.equal(pretrained.state_dict()[key], fine_tuned[key])

    # the saved model loads and predicts identically without the original folder
    predictions = system.predict(valid)
    shutil.rmtree(local)
    loaded = registry.load_saved(tmp_path / "model")
    assert isinstance(loaded, ContrastiveSystem) and loaded.config == system.config
    assert loaded.predict(valid) == predictions
    loaded.save(tmp_path / "again")  # a loaded model carries its encoder along
    assert (tmp_path / "again" / ENCODER_FOLDER / "model.safetensors").is_file()

    # the other transformer systems start from the pre-trained encoder by path
    for cls, config_class in (
        (BertSoftmaxSystem, BertSoftmaxConfig),
        (TransformerSystem, TransformerConfig),
    ):
        other = cls(config_class(model=str(encoder_folder), epochs=1, lr=1e-3))
        other.architecture = other.build(make_examples(train[:4], other.codec, True))
        weights = other.model.encoder.state_dict()[key]
        assert torch.equal(weights, pretrained.state_dict()[key])


def test_crf_variant_uses_system_1_heads(tiny, corpus):
    train, valid = corpus.split("train").tweets, corpus.split("valid").tweets
    system = make_system(tiny, head="crf", pretrain_epochs=1).fit(train[:16])
    assert isinstance(system.model.head, MultitaskCrfHead) and not system.labels_from_spans
    assert "pretrained_pooler" in system.architecture
    predictions = system.predict(valid)
    assert len(predictions) == len(valid)
    assert not ContrastiveSystem(ContrastiveConfig()).uses_pooler()


def test_harness_run_with_contrastive(tiny, tmp_path):
    out = tmp_path / "run"
    args = ["run", "--system", "contrastive", "--out", str(out), "--no-progress"]
    options = ("epochs=1", "pretrain_epochs=1", "gaussian_dim=8", "head=mlp", "head_hidden=16")
    for option in (f"model={tiny}", *options):
        args += ["-o", option]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["system"] == "contrastive" and "7a" in metrics["scores"]["valid"]
    architecture = json.loads((out / "model" / "architecture.json").read_text(encoding="utf-8"))
    assert architecture["pretrained_encoder"] == ENCODER_FOLDER
    assert len(architecture["pretraining"]) == 1
    assert (out / "model" / ENCODER_FOLDER / "model.safetensors").is_file()
