"""Sampling: each row by its own parameters and generator, whatever its neighbours."""
import torch

from microservices.engine import sampling
from microservices.engine.sampling import sample


def _sample(logits, params, seeds):
    t, k, p = zip(*params)
    return sample(logits, torch.tensor(t), torch.tensor(k), torch.tensor(p),
                  [torch.Generator().manual_seed(s) for s in seeds])


def test_a_row_draws_the_same_token_whoever_shares_its_batch():
    torch.manual_seed(0)
    logits = torch.randn(4, 500)
    mine = (0.9, 40, 0.95)
    for seed in range(20):
        alone = _sample(logits[:1], [mine], [seed])
        crowded = _sample(logits, [mine, (1.0, 0, 1.0), (0.0, 0, 1.0), (0.7, 400, 0.5)], [seed, 1, 2, 3])
        assert alone[0] == crowded[0]


def test_top_k_one_and_tiny_top_p_are_greedy_and_greedy_rows_take_the_argmax():
    torch.manual_seed(1)
    logits = torch.randn(3, 300)
    got = _sample(logits, [(1.0, 1, 1.0), (1.0, 0, 1e-9), (0.0, 0, 1.0)], [0, 0, 0])
    assert got.tolist() == logits.argmax(-1).tolist()


def test_a_row_without_top_k_does_not_make_its_neighbours_sort_the_vocabulary(monkeypatch):
    widths = []
    real = sampling._draw

    def spy(logits, temperature, top_k, top_p, generators):
        widths.append((len(logits), top_k.tolist()))
        return real(logits, temperature, top_k, top_p, generators)
    monkeypatch.setattr(sampling, "_draw", spy)
    _sample(torch.randn(3, 1000), [(0.8, 40, 0.95), (1.0, 0, 1.0), (0.8, 20, 0.9)], [0, 1, 2])
    assert sorted(widths) == [(1, [0]), (2, [40, 20])]  # the top-k rows are drawn apart from the full-vocabulary one
