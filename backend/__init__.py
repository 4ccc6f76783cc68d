"""The writeup backend: Django + DRF + Channels (see docs/contracts.md)."""
