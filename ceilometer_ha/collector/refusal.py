"""A collector that cannot start: what it says, and its exit code.

The program (``cmd.collector``) starts through ``exit_code``, and so
does each worker that ``workers`` forks, so that a refusal reads the
same whichever process met it: one ERROR line in the log (``Cannot
start: ...``, naming what to fix) and the same on standard error, and
exit code 2 for a configuration or schema problem, 1 for anything else
starting met (a port in use, a database error). The log is where the
reason must be: the Pacemaker agent puts the collector's standard error
in its ``log_file`` too, but a unit or job may not keep it.
"""

import collections.abc
import sys

from oslo_config import cfg
from oslo_log import log
import sqlalchemy as sa

from ceilometer_ha.collector import config_check
from ceilometer_ha.collector import dispatcher
from ceilometer_ha.storage import migration

LOG = log.getLogger(__name__)
PROG = "ceilometer-collector-ha"
EXIT_FAILED = 1
EXIT_REFUSED = 2
# A setting to fix: the message says which.
REFUSALS = (
    cfg.Error,
    config_check.ConfigError,
    migration.SchemaError,
    dispatcher.DispatcherError,
)
FAILURES = (OSError, sa.exc.SQLAlchemyError)


def exit_code(start: collections.abc.Callable[[], int]) -> int:
    """``start()``'s exit code, or that of what it refused to start for
    (``REFUSALS``, ``FAILURES``), said once in the log and on standard
    error; any other exception propagates."""
    error: Exception
    try:
        return start()
    except REFUSALS as exc:
        error, code = exc, EXIT_REFUSED
    except FAILURES as exc:
        error, code = exc, EXIT_FAILED
    # Logged outside the handler: oslo.log would repeat the exception.
    LOG.error("Cannot start: %s", error)
    sys.stderr.write(f"{PROG}: {error}\n")
    return code
