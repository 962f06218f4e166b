"""Joining a Ray cluster: `auto`, `local` (one started in this process) or host:port, with a
one-line error in seconds when nothing answers there."""

from __future__ import annotations

import socket

import ray

from .options import ClusterError

NAMESPACE = "fastsam-video"


def connect(address: str, *, num_cpus: float | None = None) -> bool:
    """Joins the cluster at `address`: `auto` (the one `ray start` runs on this machine), `local`
    (a one-node cluster in this process) or host:port / ray://host:port. True when this call
    started Ray here (whoever owns it shuts it down: `ray.shutdown()`)."""
    if ray.is_initialized():
        return False
    if not address:
        raise ClusterError("cluster address: expected auto, local or host:port, got an empty string")
    if address not in ("auto", "local"):
        check_reachable(address)
    try:
        if address == "local":  # a new cluster even when one runs here (or RAY_ADDRESS names one): never
            # join it, since this process shuts its Ray and Serve down at the end
            ray.init(address="local", namespace=NAMESPACE, include_dashboard=False, num_cpus=num_cpus,
                     log_to_driver=False)
        else:
            ray.init(address=address, namespace=NAMESPACE, log_to_driver=False)
    except ConnectionError as err:
        raise ClusterError(f"cannot join the Ray cluster at {address!r}: {str(err).splitlines()[0]} (start one "
                           "with `ray start --head`, or pass --ray local; with token authentication on, "
                           "export the cluster's RAY_AUTH_TOKEN here)") from None
    return True


def check_reachable(address: str, timeout: float = 3.0) -> None:
    """A host:port (or ray://host:port) that nothing answers on fails here, in seconds: Ray itself
    retries for minutes before it gives up."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"cluster address: expected auto, local or host:port, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as err:
        raise ClusterError(f"cannot join the Ray cluster at {address!r}: nothing answers there "
                           f"({err.strerror or type(err).__name__}); check the address, start one with "
                           "`ray start --head`, or pass --ray local") from None
