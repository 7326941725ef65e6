"""Tiny randomly initialised QA models of every model type the command line accepts (no download): hidden size 32,
two layers, and otherwise the architecture options of the real checkpoints (DeBERTa's relative attention, ELECTRA's
and ALBERT's smaller embeddings), so that they use the same parameters a real model does."""

import numpy as np
import torch

VOCAB_SIZE = 100
SMALL = dict(vocab_size=VOCAB_SIZE, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
             max_position_embeddings=128)
DEBERTA = dict(SMALL, relative_attention=True, position_biased_input=False, max_relative_positions=-1,
               type_vocab_size=0)
# kwargs of transformers.AutoConfig.for_model, by command-line model type
CONFIGS = {
    "bert": ("bert", SMALL),
    "kobert": ("bert", SMALL),
    "distilbert": ("distilbert", dict(vocab_size=VOCAB_SIZE, dim=32, n_layers=2, n_heads=2, hidden_dim=64,
                                      max_position_embeddings=128)),
    "electra": ("electra", dict(SMALL, embedding_size=16)),
    "albert": ("albert", dict(SMALL, embedding_size=16)),
    "roberta": ("roberta", dict(SMALL, type_vocab_size=1)),
    "xlm-roberta": ("xlm-roberta", dict(SMALL, type_vocab_size=1)),
    "camembert": ("camembert", dict(SMALL, type_vocab_size=1)),
    "deberta": ("deberta", dict(DEBERTA, pos_att_type=["c2p", "p2c"])),
    "deberta-v2": ("deberta-v2", dict(DEBERTA, pos_att_type=["p2c", "c2p"], position_buckets=8,
                                      norm_rel_ebd="layer_norm", share_att_key=True)),
    "mpnet": ("mpnet", SMALL),
    "xlnet": ("xlnet", dict(vocab_size=VOCAB_SIZE, d_model=32, n_layer=2, n_head=2, d_inner=64)),
    "funnel": ("funnel", dict(vocab_size=VOCAB_SIZE, d_model=32, n_head=2, d_head=16, d_inner=64, block_sizes=[1, 1],
                              num_decoder_layers=1)),
    "bart": ("bart", dict(vocab_size=VOCAB_SIZE, d_model=32, encoder_layers=1, decoder_layers=1,
                          encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                          decoder_ffn_dim=64, max_position_embeddings=128)),
    # an attention window of 4 (even, as Longformer needs) and 2-token blocks keep the inputs short
    "longformer": ("longformer", dict(SMALL, type_vocab_size=1, attention_window=4, sep_token_id=2)),
    "bigbird": ("big_bird", dict(SMALL, block_size=2, num_random_blocks=1, sep_token_id=3)),
}
CONFIGS["distilkobert"] = CONFIGS["distilbert"]
CONFIGS["koelectra"] = CONFIGS["electra"]


def tiny_qa_config(model_type):
    from transformers import AutoConfig

    architecture, kwargs = CONFIGS[model_type]
    return AutoConfig.for_model(architecture, **kwargs)


def tiny_qa_model(model_type, seed=0):
    """A randomly initialised AutoModelForQuestionAnswering of `model_type` (one of MODEL_TYPES)."""
    from transformers import AutoModelForQuestionAnswering

    torch.manual_seed(seed)
    return AutoModelForQuestionAnswering.from_config(tiny_qa_config(model_type))


def qa_batch(config, batch_size=2, question=3, context=8, seed=0):
    """Inputs shaped like a question-answering feature, `<cls> question <sep> <sep> context <sep>` (Longformer
    finds the question by its three separators), with answer labels inside the context."""
    generator = torch.Generator().manual_seed(seed)
    sep = _first_id(config, ("sep", "eos"), default=3)
    cls = _first_id(config, ("cls", "bos"), default=2)
    special = {sep, cls, config.pad_token_id}
    ordinary = torch.tensor([i for i in range(5, config.vocab_size) if i not in special])

    def words(n):
        return ordinary[torch.randint(len(ordinary), (batch_size, n), generator=generator)]

    column = torch.full((batch_size, 1), sep)
    input_ids = torch.cat([torch.full((batch_size, 1), cls), words(question), column, column, words(context), column],
                          dim=1)
    token_type_ids = torch.zeros_like(input_ids)
    # the context's segment id, as the model's tokenizer gives it: RoBERTa-like models have a single type (0)
    token_type_ids[:, question + 3:] = int(getattr(config, "type_vocab_size", 2) > 1)
    first = question + 3
    return {
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "token_type_ids": token_type_ids,
        "start_positions": torch.tensor([first, first + 2])[:batch_size],
        "end_positions": torch.tensor([first + 1, first + 4])[:batch_size],
    }


def _first_id(config, names, default):
    """The first of the config's <name>_token_id that is set (BERT's config names none)."""
    ids = [getattr(config, f"{name}_token_id", None) for name in names]
    return next((i for i in ids if i is not None), default)


# A BERT of 16 hidden units for Lightning runs in-process (korsquad.training), and its optimizer settings
TINY_BERT = dict(vocab_size=120, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                 max_position_embeddings=64, type_vocab_size=2)

TINY_SETTINGS = dict(learning_rate=5e-5, adam_epsilon=1e-8, weight_decay=0.0, warmup_ratio=0.0, warmup_steps=0)


def tiny_module():
    """A QAModule around a fresh TINY_BERT, seeded."""
    from transformers import BertConfig

    from korsquad.training.qa_module import QAModule

    torch.manual_seed(0)
    return QAModule("tiny", **TINY_SETTINGS, hf_config=BertConfig(**TINY_BERT).to_dict())


def padded_batches(n_batches, batch_size=4, width=24, seed=0):
    """Batches padded to `width` whose real lengths vary; (batches, real lengths per batch)."""
    rng = np.random.default_rng(seed)
    batches, lengths = [], []
    for _ in range(n_batches):
        real = rng.integers(4, width + 1, size=batch_size)
        mask = torch.from_numpy((np.arange(width)[None, :] < real[:, None]).astype(np.int64))
        batches.append({
            "input_ids": torch.from_numpy(rng.integers(5, TINY_BERT["vocab_size"], size=(batch_size, width))) * mask,
            "attention_mask": mask,
            "token_type_ids": torch.zeros(batch_size, width, dtype=torch.long),
            "start_positions": torch.zeros(batch_size, dtype=torch.long),
            "end_positions": torch.ones(batch_size, dtype=torch.long),
        })
        lengths.append(real)
    return batches, lengths
