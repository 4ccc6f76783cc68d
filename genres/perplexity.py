"""Validation perplexity on a fixed subset of held-out windows."""
from __future__ import annotations

import math

import torch


def tokenize(tokenizer, text: str, piece_chars: int = 200_000) -> torch.Tensor:
    """Token ids of a long text as one 1-D tensor, with no special tokens added.

    Tokenizing in pieces cut at blank lines keeps memory flat on multi-MB corpora;
    a cut at a blank line tokenizes the same as the whole would there.
    """
    ids: list[int] = []
    for piece in _pieces(text, piece_chars):
        ids += tokenizer(piece, add_special_tokens=False)["input_ids"]
    return torch.tensor(ids, dtype=torch.long)


def _pieces(text: str, size: int):
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = text.rfind("\n\n", start, end)
            end = cut + 2 if cut > start else end
        yield text[start:end]
        start = end


def windows(ids: torch.Tensor, length: int = 256, count: int = 64) -> torch.Tensor:
    """`count` non-overlapping windows of `length` tokens spread evenly over `ids`.

    Evenly spread rather than the first N so a corpus's held-out part is covered
    end to end; fewer windows when the text is short.
    """
    available = len(ids) // length
    if available == 0:
        raise ValueError(f"validation text has {len(ids)} tokens; need at least {length}")
    count = min(count, available)
    picks = torch.linspace(0, available - 1, count).round().long()
    return torch.stack([ids[i * length : (i + 1) * length] for i in picks.tolist()])


@torch.no_grad()
def perplexity(model, wins: torch.Tensor, batch_size: int = 8) -> float:
    """exp(mean next-token NLL) over every predicted position of every window."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    nll, count = 0.0, 0
    for i in range(0, len(wins), batch_size):
        batch = wins[i : i + batch_size].to(device)
        logits = model(input_ids=batch).logits[:, :-1].float()
        targets = batch[:, 1:]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="sum")
        nll += loss.item()
        count += targets.numel()
    model.train(was_training)
    return math.exp(nll / count)

