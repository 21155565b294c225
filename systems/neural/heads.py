"""The task 7b tagging head both paper systems share: (feed-forward), linear, CRF."""

from __future__ import annotations

import torch
from torch import nn
from torchcrf import CRF

from systems.neural.viterbi import viterbi_decode


class CrfTagger(nn.Module):
    """Word features -> tag emissions -> CRF.

    ``hidden`` adds the RNN system's feed-forward layer (Linear + ReLU) before the
    classification layer; the transformer system uses none. The loss is the CRF's mean
    negative log-likelihood over the batch.
    """

    def __init__(
        self, in_features: int, num_tags: int, dropout: float = 0.1, hidden: int | None = None
    ):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        layers: list[nn.Module] = []
        width = in_features
        if hidden:
            layers += [nn.Linear(in_features, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        self.feedforward = nn.Sequential(*layers)
        self.classifier = nn.Linear(width, num_tags)
        self.crf = CRF(num_tags, batch_first=True)

    def emissions(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.feedforward(self.dropout(features))).float()

    def loss(self, features: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood; ``mask[:, 0]`` must be true for every sequence."""
        return -self.crf(self.emissions(features), tags, mask=mask, reduction="mean")

    def decode(self, features: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """Viterbi tag ids per sequence, as long as its mask (NumPy: see
        :mod:`systems.neural.viterbi`)."""
        crf = self.crf
        with torch.no_grad():
            return viterbi_decode(
                self.emissions(features).detach().cpu().numpy(),
                mask.detach().cpu().numpy().astype(bool),
                crf.start_transitions.detach().float().cpu().numpy(),
                crf.end_transitions.detach().float().cpu().numpy(),
                crf.transitions.detach().float().cpu().numpy(),
            )


class LabelClassifier(nn.Module):
    """Task 7a: dropout and a linear layer over a pooled tweet vector, cross-entropy."""

    def __init__(self, in_features: int, dropout: float = 0.1, num_labels: int = 2):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(in_features, num_labels)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout(pooled)).float()
