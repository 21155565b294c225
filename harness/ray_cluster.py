"""One way into Ray for every command that uses it (``harness tune``, ``harness predict
--ray``): a local Ray started for the command, or a cluster joined by address."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import HarnessError, first_line


@contextlib.contextmanager
def ray_session(
    address: str | None,
    progress: bool,
    *,
    session: Path | None = None,
    option: str = "--address",
    num_cpus: int | None = None,
    quiet: bool = False,
) -> Iterator[None]:
    """Start a local Ray (its logs in ``session``, or a temporary folder) or connect to
    the cluster at ``address``; shut down after. ``quiet``: Ray's own warnings too are
    kept from the terminal (they stay in its logs)."""
    import ray

    if ray.is_initialized():
        raise HarnessError("Ray is already running in this process; cannot start another")
    kwargs: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": logging.ERROR if quiet else logging.INFO if progress else logging.WARNING,
    }
    link_dir = None
    if address is None:
        # Ray's sockets live in its temp dir and a socket path must stay under 108 bytes,
        # so Ray gets a short link to the session folder
        link_dir = Path(tempfile.mkdtemp(prefix="harness-ray-"))
        if session is not None:
            session.mkdir(parents=True, exist_ok=True)
            (link_dir / "s").symlink_to(session, target_is_directory=True)
        else:
            (link_dir / "s").mkdir()
        kwargs["_temp_dir"] = str(link_dir / "s")
        if num_cpus is not None:
            kwargs["num_cpus"] = num_cpus
        # workers import what the driver imports (a system registered at run time)
        paths = [p or os.getcwd() for p in sys.path]
        kwargs["runtime_env"] = {"env_vars": {"PYTHONPATH": os.pathsep.join(paths)}}
    else:
        check_address(address, option)
        kwargs["address"] = address
    try:
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError, OSError) as err:
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            raise HarnessError(f"cannot start or reach {where} ({first_line(err)})") from None
        try:
            yield
        finally:
            ray.shutdown()
    finally:
        if link_dir is not None:
            shutil.rmtree(link_dir, ignore_errors=True)


def check_address(address: str, option: str = "--address") -> None:
    """Fail fast on an unreachable ``HOST:PORT`` (Ray itself retries for minutes)."""
    if address == "auto":
        return
    host_port = address.split("://", 1)[-1].rsplit("/", 1)[0]
    host, sep, port = host_port.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise HarnessError(f"{option} {address!r}: expected HOST:PORT, ray://HOST:PORT or auto")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            pass
    except OSError as err:
        raise HarnessError(
            f"cannot reach the Ray cluster at {address} ({err.strerror or err})"
        ) from None
