"""Tiny random encoders of the two other tokenizer families: RoBERTa and XLM-R.

Like ``tests/tiny_bert.py`` they are written as ordinary Hugging Face folders, so the
systems load them through the same code as a downloaded model. RoBERTa gets a byte-level
BPE tokenizer saved *without* ``add_prefix_space`` (as roberta-base ships), XLM-R a
SentencePiece unigram one; both have short position tables, offset by ``padding_idx + 1``
as RoBERTa's embeddings are, so windows must respect the real limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from tokenizers import ByteLevelBPETokenizer, SentencePieceUnigramTokenizer
from tokenizers.processors import TemplateProcessing
from transformers import (
    PreTrainedTokenizerFast,
    RobertaConfig,
    RobertaModel,
    RobertaTokenizerFast,
    XLMRobertaConfig,
    XLMRobertaModel,
)

from systems.neural.subwords import DEFAULT_DUMMY

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
#: position rows: 2 never used (padding_idx + 1), 30 for pieces
POSITIONS = 32


def _config(config_class, vocab_size: int):
    return config_class(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=POSITIONS,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )


def save_tiny_roberta(folder: Path, texts: Iterable[str], seed: int = 0) -> Path:
    bpe = ByteLevelBPETokenizer(add_prefix_space=False)
    bpe.train_from_iterator(
        [*texts, DEFAULT_DUMMY],
        vocab_size=600,
        min_frequency=2,
        special_tokens=SPECIALS,
        show_progress=False,
    )
    folder.mkdir(parents=True, exist_ok=True)
    bpe.save_model(str(folder))
    tokenizer = RobertaTokenizerFast(
        vocab=str(folder / "vocab.json"),
        merges=str(folder / "merges.txt"),
        model_max_length=512,  # longer than the position table, as some checkpoints say
    )
    torch.manual_seed(seed)
    RobertaModel(_config(RobertaConfig, len(tokenizer))).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def save_tiny_xlmr(folder: Path, texts: Iterable[str], seed: int = 0) -> Path:
    unigram = SentencePieceUnigramTokenizer()
    unigram.train_from_iterator(
        [*texts, DEFAULT_DUMMY],
        vocab_size=400,
        special_tokens=SPECIALS,
        unk_token="<unk>",
        show_progress=False,
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=unigram._tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        cls_token="<s>",
        sep_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
    )
    # the unigram trainer's tokenizer adds no specials; XLM-R frames a text as <s> ... </s>
    tokenizer.backend_tokenizer.post_processor = TemplateProcessing(
        single="<s> $A </s>",
        special_tokens=[("<s>", tokenizer.bos_token_id), ("</s>", tokenizer.eos_token_id)],
    )
    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    XLMRobertaModel(_config(XLMRobertaConfig, len(tokenizer))).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder
