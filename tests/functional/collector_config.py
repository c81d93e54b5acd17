"""The collector's configuration files for tests, and its schema.

A test collector starts from the deployment notes' controller file
(``data/controller_ceilometer_ha.conf``, verbatim but for
``connection``) plus an overlay file with what the test needs. Also
here: ``dbsync``, creating the schema as the operator would.
"""

import pathlib
import re
import subprocess
import sys

DATA = pathlib.Path(__file__).parent / "data"
SEED_CONFIG = DATA / "controller_ceilometer_ha.conf"
SEED_SECRET = "nmWpu7Pu8DDWhQ3oPaBpVQjn"
BIN = pathlib.Path(sys.executable).parent
_CONNECTION = re.compile(r"^connection = .*$", re.MULTILINE)


def render_config(template: str, database_url: str) -> str:
    """The controller file with its ``connection`` set to the test URL.

    A ``mysql+pymysql://`` URL is written as ``mysql://``, the form of
    the deployment notes, so the PyMySQL mapping is exercised too.
    """
    url = database_url.replace("mysql+pymysql://", "mysql://", 1)
    text, count = _CONNECTION.subn(f"connection = {url}", template)
    if count != 1:
        raise ValueError("template has no single [database] connection")
    return text


def dbsync(config_path: pathlib.Path) -> str:
    """Run ``ceilometer-ha dbsync`` on ``config_path``; return its output."""
    done = subprocess.run(
        [
            str(BIN / "ceilometer-ha"),
            "dbsync",
            "--config-file",
            str(config_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def overlay_text(options: dict[str, dict[str, object]]) -> str:
    """``{group: {option: value}}`` as the text of an oslo.config file."""
    lines = []
    for group, values in options.items():
        lines.append(f"[{group}]")
        lines += [f"{key} = {value}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def write_files(
    workdir: pathlib.Path,
    database_url: str,
    template: str,
    options: dict[str, dict[str, object]] | None,
) -> tuple[pathlib.Path, pathlib.Path, pathlib.Path]:
    """Write the controller file and its overlay into ``workdir``.

    Returns ``(config, overlay, port_file)``. The overlay listens on
    ``127.0.0.1`` and writes ``port_file`` unless ``options`` say
    otherwise.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "ceilometer_ha.conf"
    config.write_text(render_config(template, database_url))
    port_file = workdir / "collector.port"
    merged: dict[str, dict[str, object]] = {
        "collector": {"udp_address": "127.0.0.1", "port_file": port_file}
    }
    for group, values in (options or {}).items():
        merged.setdefault(group, {}).update(values)
    overlay = workdir / "overlay.conf"
    overlay.write_text(overlay_text(merged))
    return config, overlay, port_file


def listen_address(options: dict[str, dict[str, object]] | None) -> str:
    """The address the collector listens on with these ``options``."""
    collector = (options or {}).get("collector", {})
    return str(collector.get("udp_address", "127.0.0.1"))
