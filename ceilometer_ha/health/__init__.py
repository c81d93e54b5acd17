"""Health verdicts for HA engines (see doc/health.rst).

Entry point: ``judge.judge(engine, settings)`` returns a
``model.Report``; ``settings.from_conf(conf)`` reads ``[health]``.
Pure rules: ``storage_rules`` (runs from the latest samples),
``replay`` (cycles of the history, hysteresis), ``storage_findings``
(what a host's storage says), ``host_rules`` (one host's verdict),
``guards`` (storage outage, observer blind), applied to every verdict
by ``assembly``. Reads: ``reader`` (per-host
aggregate), ``latest_rows``, ``history``, ``observer_gaps`` (gaps of
the collectors' recording), all through ``fetch`` (DB-API cursor,
GROUP_CONCAT limits, one snapshot); ``facts`` turns rows into the
records of ``host_facts``; ``render`` draws the table.
"""
