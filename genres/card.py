"""The model card (README.md) written next to every trained adapter."""
from __future__ import annotations


def render(r: dict) -> str:
    s, src = r["settings"], r.get("source") or {}
    kind = "full fine-tune" if s.get("full") else f"LoRA adapter (r={s['rank']}, alpha={s['alpha']})"
    pkgs = ", ".join(f"{p['registry']} `{p['name']}` {p['version']}" for p in src.get("packages", [])) or "unknown"
    lines = [
        f"# {src.get('title', s['genre'])} — writeup genre model",
        "",
        f"{src.get('description', '')}".strip(),
        "",
        f"- **Kind:** {kind}",
        f"- **Base:** registry route `{r['base']}` ({s.get('base_path') or 'models/smollm2-135m, SmolLM2-135M, Apache-2.0'})",
        f"- **Data:** {pkgs}",
        f"- **Data license:** {src.get('license', 'unknown')}",
        f"- **Corpus:** {_corpus_line(src)}",
        f"- **Training:** {r['steps']} steps x {s['batch_size']} x {s['seq_len']} tokens = {r['tokens_seen']:,} tokens seen; "
        f"AdamW lr {s['learning_rate']:g}, {s['warmup']} warm-up steps then {_schedule(s)}; seed {s['seed']}; "
        f"{r['train_seconds']:.0f} s on {s['device']}{_budget(r)}.",
    ]
    if r.get("note"):
        lines.append(f"- **Note:** {r['note']}")
    hashes = (src.get("sha256") or {})
    if hashes:
        lines.append("- **Data files (sha256):** " + "; ".join(f"{k}.txt `{v}`" for k, v in hashes.items()))
    if (src.get("heldout") or {}).get("works"):
        lines.append(f"- **Held-out works (never trained on):** {', '.join(src['heldout']['works'])}")
    if not s.get("full"):
        lines.append(f"- **Adapted modules:** {', '.join(s['targets'])}; plain LoRA (no DoRA, rsLoRA or bias), dropout {s['dropout']} in training only.")
    lines += [
        "",
        "## Validation perplexity",
        "",
        f"On {s['eval_windows']} evenly spaced windows of {s['eval_len']} tokens from the held-out split:",
        "",
        "| model | perplexity |",
        "|---|---|",
        f"| base | {r['base_ppl']:.2f} |",
        f"| this {'model' if s.get('full') else 'adapter'} | {r['ppl']:.2f} |",
        f"| reduction | {100 * r['reduction']:.1f}% |",
    ]
    if r.get("curve"):
        best = r.get("best_step")
        lines += ["", "## Validation curve", "",
                  f"Perplexity on a fixed subset of {s.get('curve_windows', '?')} validation windows every {s.get('eval_every')} steps; "
                  f"the weights of step {best} ship.", "",
                  "| step | train seconds | learning rate | perplexity |", "|---|---|---|---|"]
        lines += [f"| {c['step']}{' (shipped)' if c['step'] == best else ''} | {c['seconds']:.0f} | {c.get('lr', '')} "
                  f"| {c['ppl']:.2f} |" for c in r["curve"]]
    if r.get("sample_prompt"):
        lines += ["", "## Sample", "", f"Prompt: `{_one_line(r['sample_prompt'])}` (seed {s['seed']}, temperature 0.7, top-k 40)", ""]
        if r.get("base_sample"):
            lines += [f"- base: {_quote(r['base_sample'])}"]
        lines += [f"- {s['genre']}: {_quote(r['sample'])}"]
    lines += ["", "Built by `python -m genres finetune` (see docs/genres.md).", ""]
    return "\n".join(lines)


def _schedule(s: dict) -> str:
    # Runs before annealing existed have no "anneal" key: they were constant.
    return "a cosine to 10% over the time budget" if s.get("minutes") and s.get("anneal") else "constant"


def _budget(r: dict) -> str:
    s = r["settings"]
    if not s.get("minutes"):
        return ""
    return (f" plus {r.get('eval_seconds', 0):.0f} s of curve evaluation, within a budget of {s['minutes']:g} minutes "
            f"(stopped by {r.get('stopped', 'steps')})")


def _corpus_line(src: dict) -> str:
    chars = src.get("chars") or {}
    sizes = f" Train {chars['train']:,} chars, held-out validation {chars['valid']:,} chars." if chars else ""
    return (src.get("notes", "") + sizes).strip() or "(no source.json)"


def _one_line(text: str) -> str:
    # Line breaks carry the style of verse; show them rather than lose them.
    return " ↵ ".join(" ".join(ln.split()) for ln in text.strip().splitlines() if ln.strip())


def _quote(text: str) -> str:
    return "“" + _one_line(text).replace("|", "\\|") + "”"
