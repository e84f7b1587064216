"""A throwaway PostgreSQL server for the run, and the JDBC driver in the shared Spark session.

The server: ``initdb`` in a temporary folder, ``pg_ctl start`` on 127.0.0.1 with a
free port, a database and a user with a password; stopped and removed at the end.
PostgreSQL refuses to run as root, so under root it runs as the ``postgres`` system
user (created if missing). No binaries: they are installed from Debian packages.
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any, Iterator

import attrs
import pytest

log = logging.getLogger(__name__)

PASSWORD_ENV = "LAKEPORT_TEST_PG_PASSWORD"
USER = "lakeport"
DATABASE = "lakeport"


@attrs.frozen
class PostgresServer:
    host: str
    port: int
    socket_dir: str
    bin_dir: str
    user: str
    password: str = attrs.field(repr=False)
    database: str = DATABASE
    os_user: str | None = None

    @property
    def url(self) -> str:
        return f"jdbc:postgresql://{self.host}:{self.port}/{self.database}"

    def psql(self, sql: str) -> str:
        """Run SQL as the test user with psql (independent of the code under test); its output."""
        out = subprocess.run(
            [f"{self.bin_dir}/psql", "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", self.database,
             "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
            env={**os.environ, "PGPASSWORD": self.password}, capture_output=True, text=True, check=True,
        )
        return out.stdout.strip()

    def rows(self, sql: str) -> list[tuple[str, ...]]:
        return [tuple(line.split("|")) for line in self.psql(sql).splitlines()]


def _bin_dir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            pytest.fail("PostgreSQL server binaries are missing: apt-get install -y postgresql")
        log.warning("installing PostgreSQL from Debian packages")
        subprocess.run(["apt-get", "update"], check=True, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "postgresql"], check=True,
                       capture_output=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return str(Path(found[-1]).parent)


def _os_user() -> str | None:
    """Whom to run the server as: root may not; anyone else runs it as themselves."""
    if os.geteuid() != 0:
        return None
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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir, os_user = _bin_dir(), _os_user()
    base = tempfile.mkdtemp(prefix="lakeport-pg-")
    as_user = ["runuser", "-u", os_user, "--"] if os_user else []
    data, superpw, password = os.path.join(base, "data"), uuid.uuid4().hex, "pw-" + uuid.uuid4().hex[:12]
    pwfile = os.path.join(base, "superpw")
    Path(pwfile).write_text(superpw + "\n")
    if os_user:
        entry = pwd.getpwnam(os_user)
        os.chmod(base, 0o700)
        for path in (base, pwfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    subprocess.run([*as_user, f"{bin_dir}/initdb", "-D", data, "-U", "postgres", "--auth=scram-sha-256",
                    f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C", "--no-sync"], check=True, capture_output=True)
    port = _free_port()
    options = f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    pg_ctl = [*as_user, f"{bin_dir}/pg_ctl", "-D", data, "-l", os.path.join(base, "server.log")]
    subprocess.run([*pg_ctl, "-w", "-t", "60", "-o", options, "start"], check=True, capture_output=True)
    try:
        admin = PostgresServer("127.0.0.1", port, base, bin_dir, "postgres", superpw, database="postgres")
        admin.psql(f"CREATE ROLE {USER} LOGIN PASSWORD '{password}'")
        admin.psql(f"CREATE DATABASE {DATABASE} OWNER {USER}")
        yield PostgresServer("127.0.0.1", port, base, bin_dir, USER, password, os_user=os_user)
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_spark(spark: Any) -> Any:
    """The shared session, with the PostgreSQL JDBC driver (attached if the session started without it)."""
    from lakeport_postgres import attach_driver, driver_available

    if not driver_available(spark):
        attach_driver(spark)
    return spark


@pytest.fixture
def pg_password(postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test user's password, in the environment variable the project files reference."""
    monkeypatch.setenv(PASSWORD_ENV, postgres_server.password)
    return PASSWORD_ENV


@pytest.fixture
def pg_table() -> str:
    """A table name no other test uses."""
    return "t_" + uuid.uuid4().hex[:12]
