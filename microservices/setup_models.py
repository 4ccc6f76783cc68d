"""Prepare model files: convert every embedded model once, report the rest.

    python -m microservices.setup_models [--force]
"""
from __future__ import annotations

import argparse
import sys

from contract import registry

from . import weights


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--force", action="store_true", help="convert again even when already done")
    ap.add_argument("--registry", help="registry file (default: $WRITEUP_REGISTRY or config/models.yaml)")
    args = ap.parse_args(argv)
    try:
        reg = registry.load(args.registry)
    except registry.RegistryError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    failed = False
    for m in reg.models.values():
        if m.source and m.source.kind == "embedded":
            try:
                weights.convert_embedded(m, force=args.force)
            except weights.WeightsUnavailable as e:
                print(f"error: {e}", file=sys.stderr)
                failed = True
    for m in reg.models.values():
        base = reg.base_of(m.route)
        ok, why = weights.availability(base)
        print(f"  {m.route:<16} {'available' if ok else 'unavailable'}{'' if ok else ': ' + why}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
