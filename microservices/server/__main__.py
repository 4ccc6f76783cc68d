"""Run one model microservice instance from the registry.

    python -m microservices.server --instance smollm2-1 [--port 8101]
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from contract import logs, registry

from .. import weights
from ..engine.adapters import AdapterError


def main(argv=None) -> int:
    # The engine thread and the server's event loop share the GIL: a thread
    # that wants it waits up to the switch interval (5 ms by default) while
    # the other runs Python, against a decode step of ~13 ms. At 0.5 ms,
    # batch-1 decode through the API measured 66.0 -> 69.3 tok/s (AMX Xeon).
    sys.setswitchinterval(float(os.environ.get("WRITEUP_SWITCH_INTERVAL", "0.0005")))
    ap = argparse.ArgumentParser(prog="python -m microservices.server", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instance", required=True, help="instance id in the registry")
    ap.add_argument("--registry", help="registry file (default: $WRITEUP_REGISTRY or config/models.yaml)")
    ap.add_argument("--host", help="bind address (default: the instance's host)")
    ap.add_argument("--port", type=int, help="port (default: the instance's port)")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("WRITEUP_THREADS", "0")) or None,
                    help="torch CPU threads (default: torch's choice; env WRITEUP_THREADS)")
    ap.add_argument("--prefix-cache-mb", type=float, default=float(os.environ.get("WRITEUP_PREFIX_CACHE_MB", "3072")),
                    help="memory for parked drafts' KV (whole cache slots: 3072 MB holds 32 drafts of "
                         "2,048 tokens of SmolLM2 in fp32, 64 with a bf16 KV cache); 0 disables reuse (env WRITEUP_PREFIX_CACHE_MB)")
    args = ap.parse_args(argv)
    # The compiled decode step's kernels (compile_decode): kept across restarts
    # (torch's default is under /tmp, which a service's private /tmp loses).
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", os.path.expanduser("~/.cache/writeup/torchinductor"))
    # JSON lines unless WRITEUP_LOG_FORMAT=plain (docs/operations.md: following one request).
    try:
        logs.configure(os.environ.get("WRITEUP_LOG_FORMAT", "json"), os.environ.get("WRITEUP_LOG_LEVEL", "INFO"))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        reg = registry.load(args.registry)
        inst = reg.instance(args.instance)
        from .service import build

        service = build(reg, inst.id, prefix_cache_mb=args.prefix_cache_mb, threads=args.threads)
    except (registry.RegistryError, weights.WeightsUnavailable, AdapterError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from daphne.endpoints import build_endpoint_description_strings
    from daphne.server import Server

    from .app import create_app

    service.engine.start()
    host, port = args.host or inst.host, args.port or inst.port
    logging.getLogger("writeup.server").info("serving %s on http://%s:%d", ", ".join(service.models), host, port)
    Server(application=create_app(service), endpoints=build_endpoint_description_strings(host=host, port=port),
           websocket_timeout=-1, verbosity=0).run()
    service.engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
