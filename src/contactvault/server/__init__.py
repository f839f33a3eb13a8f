"""The contactvault server. Packages by layer (imports only point down; ``docs/architecture.md`` has the map):

- ``api/`` (HTTP) and ``worker/`` (the unlock pipeline, resolvers): entrypoints, beside ``cli/`` outside.
- ``services/``: the use cases. ``domain/``: pure rules, standard library only.
- ``db/``: storage, the only place that builds SQL or branches on dialect (PostgreSQL LISTEN/NOTIFY included).
- ``demo/``: synthetic directories and provisioning, for the CLI's demo commands and the benchmarks.

The modules at this root are the shared kernel every layer above ``domain`` may use, and stay here for that:
``config`` (settings), ``clock`` (clock and id source), ``crypto`` (ciphers, key files), ``addresses`` (canonical
emails and phones: the field's libraries, so not ``domain``; used by services and resolvers), ``notifier`` (the
in-process task-change signal; its PostgreSQL twin is ``db/pg_notify``), ``faults`` (named fault points for
crash tests), ``logs`` (logging setup and formatters), ``metrics`` (the Prometheus counters services, workers and
the API bump), ``key_checks`` (whether the configured keys are the ones that wrote a database: at start, at
restore, after a rotation), and the composition root: ``runtime`` (what a service needs) and ``bootstrap`` (which
builds it).
"""
