"""The command line the benchmarks share: the module's docstring as help,
`--repeats`, and `--threads` (torch's CPU threads, set as the arguments are read)."""
from __future__ import annotations

import argparse

import torch


def parser(doc: str, *, repeats: int) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=repeats)
    ap.add_argument("--threads", type=int, default=2)
    return ap


def parse(ap: argparse.ArgumentParser) -> argparse.Namespace:
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    return args
