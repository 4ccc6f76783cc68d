"""Genre models: corpora from packages, LoRA fine-tuning, registry routes (docs/genres.md)."""
