"""Load test and deployment gate: simulated writers against a running stack.

    .venv/bin/python -m loadtest --url http://127.0.0.1:8000 --writers 4 --duration 60

Each simulated writer holds one compose socket, as an editor tab does: it
opens a draft whose length is drawn from a distribution of drafts (1,000-3,000
words by default), prewarms it as the editor does, pauses within seconds and
asks for its first suggestion; then types a burst of words, pauses, asks for a
suggestion, reads the stream, and now and then types over it (cancel, or a new
`generate` under the same id). The run reports time to first token (all
suggestions, and first suggestions after opening on their own; a request typed
over before its first token counts with its age) and inter-token latency
(p50/p90/p99), completed, cancelled and failed streams with the error codes,
and exits non-zero when a threshold is missed, so it can gate a deployment
(see docs/loadtest.md). `--capacity` prints a table of writer counts for short
and long drafts.

Why an asyncio client on `websockets` rather than Locust: it is already a
dependency (the relay's upstream client), it speaks our exact message schema
(one socket carrying many requests, ids, cancel and replace) with no plugin,
one process drives hundreds of idle-most-of-the-time writers without a
greenlet runtime, and the run is an ordinary command with an exit status.

It only ever connects to loopback addresses: it is for a stack on this machine
(or one reached through an SSH tunnel), never a way to send traffic elsewhere.
"""
