"""The GitHub App front door: ``guardrail serve`` (webhook app + workers) and ``guardrail worker`` (workers only).

    GitHub ──POST /webhook──► app.py (signature on raw bytes, size cap, parse, dedup, enqueue) ──202──►
                                  │ huey queue (SQLite on one machine, Redis on many) + delivery/lease records
                                  ▼
                              worker.py (installation token, fetch the PR, the Action's pipeline and reporters)

Modules: ``settings`` (env + flags), ``signature`` (X-Hub-Signature-256), ``deliveries`` (which events run a
job), ``jobqueue`` (huey, dedup, supersede, leases and recovery), ``app`` (the Starlette factory), ``worker`` (one
job), ``metrics`` (Prometheus), ``logs`` (JSON lines with the delivery id). Nothing runs at import time.
"""
