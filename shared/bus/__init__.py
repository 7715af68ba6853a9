"""The AMQP bus in Kazoo's style (spec bus.md).

- `encoding`: routing-key segments (§3) and topic matching.
- `envelope`: default headers, JSON encoding, validation against schemas/amqp, error replies (§5, §6).
- `connection.Bus`: the process's robust connection: declarations, publish, request (§7.1), subscribe.
- `responder`: shared-queue consumers that always answer (§7.2, §7.3), and `run_worker`.
- `events`: document-change events (§10).
- `errors`: what callers catch.
"""
