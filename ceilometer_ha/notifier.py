"""An oslo.messaging notifier driver that runs the pipeline in process.

With ``[publisher_notifier] telemetry_driver = ha_pipeline`` the stock
polling agent hands its signed sample batches to :class:`PipelineDriver`
instead of RabbitMQ. The driver rebuilds ceilometer ``Sample`` objects
exactly as the notification agent does
(``ceilometer/telemetry/notifications.py``: same ``message_id``,
timestamp and metadata) and pushes them through the sinks of
``[DEFAULT] pipeline_cfg_file`` with ceilometer's own
``SamplePipelineManager`` and publishers (``udp://`` in particular).

No RabbitMQ, no notification agent: the health samples do not depend on
the normal telemetry path. A publisher error is logged and never stops
polling, the UDP publisher's once a minute per kind of error
(``send_failures``); the pipeline manager is built once, lazily,
thread-safely.
"""

import threading
import typing

from ceilometer import sample
from ceilometer.pipeline import sample as sample_pipeline
from oslo_log import log
from oslo_messaging.notify import notifier

from ceilometer_ha import send_failures
from ceilometer_ha.pollsters import pipeline_files

LOG = log.getLogger(__name__)


def samples_from_payload(payload: dict) -> list[sample.Sample]:
    """The ``Sample`` objects of a ``telemetry.polling`` payload."""
    return [
        sample.Sample(
            name=s["counter_name"],
            type=s["counter_type"],
            unit=s["counter_unit"],
            volume=s["counter_volume"],
            user_id=s["user_id"],
            project_id=s["project_id"],
            resource_id=s["resource_id"],
            timestamp=s["timestamp"],
            resource_metadata=s["resource_metadata"],
            source=s["source"],
            id=s["message_id"],
            monotonic_time=s.get("monotonic_time"),
            user_name=s.get("user_name"),
            project_name=s.get("project_name"),
        )
        for s in payload.get("samples", [])
    ]


class PipelineDriver(notifier.Driver):
    """Publishes polled samples through the pipeline file's sinks."""

    def __init__(self, conf, topics, transport) -> None:
        super().__init__(conf, topics, transport)
        self._lock = threading.Lock()
        self._manager: sample_pipeline.SamplePipelineManager | None = None
        # Meter names whose route to a collector was checked.
        self._routed: set[str] = set()
        send_failures.install()

    def pipeline_manager(self) -> sample_pipeline.SamplePipelineManager:
        """Built on first use from ``[DEFAULT] pipeline_cfg_file``."""
        with self._lock:
            if self._manager is None:
                self._manager = sample_pipeline.SamplePipelineManager(
                    self.conf
                )
                LOG.info(
                    "Publishing polled samples in process through %s",
                    ", ".join(p.name for p in self._manager.pipelines),
                )
                for problem in pipeline_files.publisher_problems(
                    self.conf, self._manager
                ):
                    LOG.error(
                        "[DEFAULT] pipeline_cfg_file %s: %s: samples "
                        "sent there go nowhere",
                        self.conf.pipeline_cfg_file,
                        problem,
                    )
            return self._manager

    def notify(self, ctxt, message, priority, retry) -> None:
        try:
            payload: dict[str, typing.Any] = message.get("payload") or {}
            samples = samples_from_payload(payload)
            if not samples:
                return
            manager = self.pipeline_manager()
            self._check_routes(manager, samples)
            with manager.publisher() as publish:
                publish(samples)
        except Exception:
            # Never let a pipeline or publisher error reach the poller.
            LOG.exception("Cannot publish %s polled samples", _count(message))

    def _check_routes(
        self,
        manager: sample_pipeline.SamplePipelineManager,
        samples: list[sample.Sample],
    ) -> None:
        """Log once per meter name that no sink sends to a collector."""
        for name in {s.name for s in samples} - self._routed:
            self._routed.add(name)
            if not pipeline_files.reaches_collector(manager, name):
                LOG.error(
                    "%s samples reach no collector: no sink of [DEFAULT] "
                    "pipeline_cfg_file %s sends them to a udp:// publisher "
                    "that names a host; the controllers never see them",
                    name,
                    self.conf.pipeline_cfg_file,
                )


def _count(message: typing.Any) -> int:
    try:
        return len(message["payload"]["samples"])
    except (KeyError, TypeError):
        return 0
