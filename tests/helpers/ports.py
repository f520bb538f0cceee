"""A TCP port for a test's process group, so that tests running side by side do not collide."""
import socket


def free_port() -> int:
    """A port nothing listens on now (the OS picks it; the test binds it soon after)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]
