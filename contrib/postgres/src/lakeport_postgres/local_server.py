"""A throwaway PostgreSQL server on 127.0.0.1, for tests, benchmarks and examples.

``initdb`` in a temporary folder, ``pg_ctl start`` on a free port (its unix socket
in that folder too), a database and a user with a password; stopped and removed on
exit. PostgreSQL refuses to run as root, so under root the server runs as the
``postgres`` system user (created if missing). Without server binaries, and as root
with apt-get, ``install=True`` installs Debian's ``postgresql`` package.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import attrs

from lakeport.api import LakeportError

log = logging.getLogger(__name__)


@attrs.frozen
class LocalServer:
    host: str
    port: int
    bin_dir: str
    user: str
    password: str = attrs.field(repr=False)
    database: str = "lakeport"

    @property
    def url(self) -> str:
        return f"jdbc:postgresql://{self.host}:{self.port}/{self.database}"

    def psql(self, sql: str) -> str:
        """Run SQL with ``psql`` as this user; its unaligned output."""
        done = subprocess.run(
            [f"{self.bin_dir}/psql", "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", self.database,
             "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
            env={**os.environ, "PGPASSWORD": self.password}, capture_output=True, text=True,
        )
        if done.returncode != 0:
            raise LakeportError(f"psql failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def rows(self, sql: str) -> list[tuple[str, ...]]:
        """A query's rows, each a tuple of strings."""
        return [tuple(line.split("|")) for line in self.psql(sql).splitlines()]


def server_binaries(install: bool = False) -> str:
    """The newest ``/usr/lib/postgresql/<version>/bin``; installs Debian's package if asked and absent."""
    found = _initdbs()
    if not found and install and os.geteuid() == 0 and shutil.which("apt-get"):
        log.warning("PostgreSQL server binaries are missing; installing Debian's postgresql package")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], check=True, capture_output=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "postgresql"], check=True,
                       capture_output=True, env=env)
        found = _initdbs()
    if not found:
        raise LakeportError("PostgreSQL server binaries are missing (/usr/lib/postgresql/*/bin/initdb): "
                            "apt-get install -y postgresql")
    return str(Path(found[-1]).parent)


def _initdbs() -> list[str]:
    return sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))


def _server_user() -> str | None:
    """Whom the server runs as: root may not run it; anyone else runs it as themselves."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"],
                       check=True, capture_output=True)
    return "postgres"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise LakeportError(f"{what} failed: {(done.stderr or done.stdout).strip()}")


@contextmanager
def local_server(user: str = "lakeport", database: str = "lakeport", *, install: bool = False) -> Iterator[LocalServer]:
    """A running server with ``user`` (a random password) owning ``database``; gone after the block."""
    bin_dir, os_user = server_binaries(install), _server_user()
    base = tempfile.mkdtemp(prefix="lakeport-pg-")
    as_user = ["runuser", "-u", os_user, "--"] if os_user else []
    data, superpw, password = os.path.join(base, "data"), uuid.uuid4().hex, "pw-" + uuid.uuid4().hex[:16]
    pwfile = os.path.join(base, "superpw")
    Path(pwfile).write_text(superpw + "\n")
    os.chmod(base, 0o700)
    if os_user:
        import pwd

        entry = pwd.getpwnam(os_user)
        for path in (base, pwfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    pg_ctl = [*as_user, f"{bin_dir}/pg_ctl", "-D", data, "-l", os.path.join(base, "server.log")]
    started = False
    try:
        _run([*as_user, f"{bin_dir}/initdb", "-D", data, "-U", "postgres", "--auth=scram-sha-256",
              f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C", "--no-sync"], "initdb")
        port = _free_port()
        # durability is not the point of a throwaway server
        options = f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        _run([*pg_ctl, "-w", "-t", "60", "-o", options, "start"], "pg_ctl start")
        started = True
        admin = LocalServer("127.0.0.1", port, bin_dir, "postgres", superpw, database="postgres")
        admin.psql(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
        admin.psql(f"CREATE DATABASE {database} OWNER {user}")
        log.info("PostgreSQL running on 127.0.0.1:%d (%s)", port, base)
        yield LocalServer("127.0.0.1", port, bin_dir, user, password, database=database)
    finally:
        if started:
            subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
