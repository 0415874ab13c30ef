"""Worker and broker processes the fault tests start, and kill, themselves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))


def test_database_url() -> str:
    """The database this test run uses (pytest-django's test_<name>)."""
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


def child_env(*, broker: str, queue: str, email_port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="patchplan.settings.test",
        DATABASE_URL=test_database_url(),
        CELERY_BROKER_URL=broker,
        CELERY_QUEUE=queue,
        EMAIL_URL=f"smtp://127.0.0.1:{email_port}",
        EMAIL_TIMEOUT="5",
        CONN_MAX_AGE="0",
    )
    return env


class WorkerProcess:
    """`celery -A patchplan worker` on one queue, in its own process group."""

    def __init__(self, env: dict[str, str], queue: str, name: str = "w1"):
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - the process writes to it
            prefix=f"celery-{name}-", suffix=".log", delete=False
        )
        self.proc = subprocess.Popen(
            [
                CELERY,
                "-A",
                "patchplan",
                "worker",
                "-Q",
                queue,
                "--pool=solo",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                "--loglevel=INFO",
                "-n",
                f"{name}-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.alive():
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=20)

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")


def run_scan(env: dict[str, str], at: str | None = None) -> str:
    cmd = [sys.executable, "manage.py", "notifications_scan"] + (["--at", at] if at else [])
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


class RedisServer:
    """A throwaway redis-server on its own port (never the shared one)."""

    def __init__(self, port: int):
        self.port = port
        self.dir = tempfile.mkdtemp(prefix="redis-fault-")
        self.pidfile = os.path.join(self.dir, "redis.pid")

    def start(self) -> None:
        subprocess.run(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--dir",
                self.dir,
                "--pidfile",
                self.pidfile,
                "--logfile",
                os.path.join(self.dir, "redis.log"),
            ],
            check=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if os.path.exists(self.pidfile) and _port_open(self.port):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        try:
            pid = int(Path(self.pidfile).read_text().strip())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _port_open(self.port):
            time.sleep(0.05)
        Path(self.pidfile).unlink(missing_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def _port_open(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
