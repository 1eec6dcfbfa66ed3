"""Tiny random models and in-process tokenizers for fast, offline tests.

Every factory trains its tokenizer on a small fixed corpus (deterministic, milliseconds) and
builds a randomly initialised model (hidden size 32, 2 layers) under a fixed seed. Each returns
a :class:`~promptsearch.models.LoadedModel` on CPU in float32.

Tokenizer properties the scorer tests can rely on (checked in ``tests/models/test_tiny.py``):

* Causal and seq2seq tokenizers tokenize any text (unknown words, newlines, digits).
* Every word of :data:`WORDS` is ONE token with a leading space (``" positive"``) and without
  (``"positive"``); in the WordPiece (BERT) tokenizer, lowercased and without a space marker.
* Words in :data:`MULTI_TOKEN_WORDS` (``"magnificent"``, ...) split into several tokens.
* ``tiny_causal`` (Llama) adds a BOS token ``<s>`` like real Llama tokenizers and has no pad
  token of its own (pad = eos ``</s>`` after :func:`ensure_pad_token`); ``tiny_causal_absolute``
  (GPT-2, absolute positions) adds nothing and pads with ``<|endoftext|>``.
* ``tiny_masked`` (BERT) wraps text as ``[CLS] ... [SEP]`` and has ``[MASK]``.
* ``tiny_seq2seq`` (T5) uses a SentencePiece-like ``▁`` prefix (so ``" good"`` and ``"good"``
  encode alike), appends ``</s>``, has ``<extra_id_0>`` ... ``<extra_id_9>``; pad id 0 is the
  decoder start token.

Weights are initialised with a larger spread than usual (``initializer_range=0.3``) so that
log-probabilities differ clearly between words and positions: bugs in padding or position
ids then change scores by far more than test tolerances.
"""

from __future__ import annotations

import functools
import string
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    BertConfig,
    BertForMaskedLM,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    T5Config,
    T5ForConditionalGeneration,
)

from promptsearch.models import LoadedModel, ModelKind
from promptsearch.models._loading import context_length, ensure_pad_token

__all__ = [
    "MULTI_TOKEN_WORDS",
    "WORDS",
    "causal_tokenizer",
    "masked_tokenizer",
    "save_loaded",
    "seq2seq_tokenizer",
    "tiny_causal",
    "tiny_causal_absolute",
    "tiny_masked",
    "tiny_seq2seq",
]

_INIT = 0.3
_Fast: Any = PreTrainedTokenizerFast  # untyped constructor in transformers 5
_MAX_POSITIONS = 256

_WORD_TEXT = """
    positive negative neutral good bad great terrible awful excellent fine okay poor
    wonderful amazing boring fun funny dull brilliant horrible lovely nice best worst
    love loved hate hated like liked enjoy enjoyed yes no true false right wrong maybe
    fresh rotten business sport sports politics tech technology entertainment world science
    health music news topic sentiment review Review Sentiment Answer Question Text Topic
    Label Input Output Category Classify Summary Movie It This The A An
    movie film films movies story plot actor actors acting scene scenes director
    the a an this that it is was were be been are am I you he she we they me my your
    very really quite so too not never always just only also even still more most less
    and or but if then than because as of to in on for with at by from about into over
    what which who how why when where there here all some any one two three first last
    time way day year people thing things man woman life work game team match win lost
    market company price stock government election minister phone computer software
    happy sad angry calm sentence label answer text question input output
"""
# Words that are single tokens in every tiny tokenizer (about 200).
WORDS: tuple[str, ...] = tuple(_WORD_TEXT.split())

# Words absent from the training corpus: they split into several tokens everywhere.
MULTI_TOKEN_WORDS: tuple[str, ...] = ("magnificent", "dreadful", "superb", "lackluster", "phenomenal")

_PUNCT = list(".,!?:;'\"()-/")
_ALPHABET = sorted(set(string.ascii_letters + string.digits + "".join(_PUNCT) + "\n"))


def _corpus() -> list[str]:
    lines: list[str] = []
    for word in WORDS:
        lines += [word, " " + word] * 8
    for tok in _PUNCT + list(string.digits):
        lines += [tok, " " + tok] * 8
    return lines


@functools.cache
def _causal_backend(bos: bool) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<s>", "</s>"] if bos else ["<|endoftext|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=4000,
        min_frequency=1,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer)
    if bos:
        bos_id = tok.token_to_id("<s>")
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos_id)]
        )
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def causal_tokenizer(*, bos: bool = True) -> Any:
    """Byte-level BPE tokenizer; Llama-like (``<s>`` BOS, no pad) or GPT-2-like (no BOS)."""
    backend = Tokenizer.from_str(_causal_backend(bos).to_str())
    if bos:
        return _Fast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>")
    return _Fast(
        tokenizer_object=backend,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )


@functools.cache
def _masked_backend() -> Tokenizer:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=4000,
        min_frequency=1,
        special_tokens=specials,
        initial_alphabet=_ALPHABET,
        show_progress=False,
    )
    # The two alphabet runs put every letter and digit in a word-continuing position, so that
    # "##x" pieces exist and unknown words split into pieces instead of becoming [UNK].
    extra = [string.ascii_lowercase + string.digits, (string.ascii_lowercase + string.digits)[::-1]]
    tok.train_from_iterator(_corpus() + extra, trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return tok


def masked_tokenizer() -> Any:
    """Lowercasing WordPiece tokenizer with ``[PAD] [UNK] [CLS] [SEP] [MASK]`` (ids 0-4)."""
    backend = Tokenizer.from_str(_masked_backend().to_str())
    return _Fast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        mask_token="[MASK]",
    )


@functools.cache
def _seq2seq_backend() -> Tokenizer:
    extra_ids = [f"<extra_id_{i}>" for i in range(10)]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.BpeTrainer(
        vocab_size=4000,
        min_frequency=1,
        special_tokens=["<pad>", "</s>", "<unk>", *extra_ids],
        initial_alphabet=[*_ALPHABET, "▁"],
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", tok.token_to_id("</s>"))]
    )
    return tok


def seq2seq_tokenizer() -> Any:
    """T5-like tokenizer: ``▁``-prefixed BPE, ``<pad>``=0, ``</s>``=1, ``<unk>``=2, sentinels."""
    backend = Tokenizer.from_str(_seq2seq_backend().to_str())
    return _Fast(
        tokenizer_object=backend,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        additional_special_tokens=[f"<extra_id_{i}>" for i in range(10)],
        model_max_length=512,
    )


def _build(model_cls: Any, config: Any, seed: int) -> Any:
    # fork_rng: building a fixture must not change the random stream of the test using it.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_cls(config)
    return model.eval()


def _wrap(model: Any, tokenizer: Any, kind: ModelKind, name: str) -> LoadedModel:
    ensure_pad_token(tokenizer, model)
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        kind=kind,
        name=name,
        device="cpu",
        dtype="float32",
        max_length=context_length(model.config, tokenizer),
    )


def tiny_causal(seed: int = 0) -> LoadedModel:
    """Tiny Llama (rotary positions, grouped-query attention) with a BOS-adding BPE tokenizer."""
    tok = causal_tokenizer(bos=True)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=_MAX_POSITIONS,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        tie_word_embeddings=False,
        initializer_range=_INIT,
    )
    return _wrap(_build(LlamaForCausalLM, config, seed), tok, ModelKind.CAUSAL, f"tiny-causal-{seed}")


def tiny_causal_absolute(seed: int = 0) -> LoadedModel:
    """Tiny GPT-2: learned absolute positions, so wrong position ids change its outputs."""
    tok = causal_tokenizer(bos=False)
    config = GPT2Config(
        vocab_size=len(tok),
        n_embd=32,
        n_layer=2,
        n_head=4,
        n_inner=64,
        n_positions=_MAX_POSITIONS,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        initializer_range=_INIT,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )
    model = _build(GPT2LMHeadModel, config, seed)
    return _wrap(model, tok, ModelKind.CAUSAL, f"tiny-causal-absolute-{seed}")


def tiny_masked(seed: int = 0) -> LoadedModel:
    """Tiny BERT masked LM with a WordPiece tokenizer."""
    tok = masked_tokenizer()
    config = BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=_MAX_POSITIONS,
        pad_token_id=tok.pad_token_id,
        initializer_range=_INIT,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    return _wrap(_build(BertForMaskedLM, config, seed), tok, ModelKind.MASKED, f"tiny-masked-{seed}")


def tiny_seq2seq(seed: int = 0) -> LoadedModel:
    """Tiny T5 (relative positions; ``decoder_start_token_id`` = pad = 0)."""
    tok = seq2seq_tokenizer()
    config = T5Config(
        vocab_size=len(tok),
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        dropout_rate=0.0,
        initializer_factor=1.0,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
    )
    config.decoder_start_token_id = tok.pad_token_id
    model = _build(T5ForConditionalGeneration, config, seed)
    return _wrap(model, tok, ModelKind.SEQ2SEQ, f"tiny-seq2seq-{seed}")


def save_loaded(loaded: LoadedModel, folder: str | Path) -> Path:
    """Save model and tokenizer with ``save_pretrained``, so ``load_model(folder)`` reloads them."""
    path = Path(folder)
    loaded.model.save_pretrained(path)
    loaded.tokenizer.save_pretrained(path)
    return path
