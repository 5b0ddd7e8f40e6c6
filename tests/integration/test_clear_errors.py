"""GIVEN hostile or broken paths and settings, WHEN the real ``energymon`` command meets them, THEN it refuses with
one message naming the path or the numbers and what to do about it, exits non-zero, and prints no traceback.

Issue 9, "Tracebacks instead of messages". Every case is run twice over: through the CLI as a subprocess (what a
person sees) and, where the refusal is an adapter's, against the adapter itself, so the adapter's part holds on
its own. Read-only folders are read-only tmpfs mounts: the tests run as root, which permission bits do not stop.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.sqlite import Database
from energymon.adapters.local.store import SqliteStore
from energymon.adapters.local.stream import LocalStream
from energymon.adapters.mqtt.broker import free_port
from energymon.agent.buffer import Buffer
from energymon.agent.publisher import check_tls_files
from energymon.deploy.certs import CertPaths, ensure_ca, ensure_device
from energymon.errors import ConfigError, StoreError

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

# Nothing may be created under /proc: the kernel refuses every new entry there.
PROC_PATH = Path("/proc/energymon-clear-errors")


# --- helpers -------------------------------------------------------------------------------------------------


def energymon(*args: str | Path, cwd: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """The real command, in its own process, with no ENERGYMON_* settings leaking in from the test's environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENERGYMON_")}
    env |= {"COLUMNS": "1000", "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"}  # one message = one line, however long its paths are
    return subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "-m", "energymon.runtimes.cli", *map(str, args)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )


def refused(result: subprocess.CompletedProcess[str], *needles: str | Path) -> str:
    """Assert a clear refusal: non-zero exit, no traceback, every needle in stderr. Returns stderr on one line."""
    said = " ".join(result.stderr.split())
    assert result.returncode != 0, f"exit 0; stdout={result.stdout!r} stderr={result.stderr!r}"
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert "Error:" not in said.replace("error:", ""), said  # no bare exception name such as "OSError: ..."
    for needle in needles:
        assert str(needle) in said, f"{needle!r} not in {said!r}"
    return said


def run_args(data_dir: Path, *extra: str | Path) -> list[str | Path]:
    """``energymon run`` as short as possible, on free ports, without simulators."""
    return ["run", "--data-dir", data_dir, "--duration", "1", "--simulate", "0", "--port", "0",
            "--web-port", "0", "--no-live", *extra]


def _mount_tmpfs(path: Path, options: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("a read-only folder needs root (mount -t tmpfs -o ro)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"{options},size=1m", "tmpfs", str(path)],  # noqa: S607
                          capture_output=True, check=False)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")


def _umount(path: Path) -> None:
    subprocess.run(["umount", str(path)], check=True)  # noqa: S607


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """An empty folder on a read-only file system."""
    path = tmp_path / "ro"
    _mount_tmpfs(path, "ro")
    yield path
    _umount(path)


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    """A regular file, to put paths under."""
    path = tmp_path / "a-file"
    path.write_text("not a folder\n")
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dump(db: Path) -> list[str]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(con.iterdump())
    finally:
        con.close()


# --- 1. a data directory that cannot be created or written -------------------------------------------------


def bad_data_dirs(tmp_path: Path, a_file: Path, read_only: Path) -> dict[str, tuple[Path, str]]:
    """Data directories that cannot work → (path, the words that must name what is wrong with it)."""
    return {
        "under /proc": (PROC_PATH / "data", "/proc does not accept new files or folders"),
        "under a regular file": (a_file / "data", f"{a_file} is a file, not a folder"),
        "the regular file itself": (a_file, f"{a_file} is a file, not a folder"),
        "inside a read-only file system": (read_only / "data", f"{read_only} cannot be written"),
        "a read-only folder that exists": (read_only, f"{read_only} cannot be written"),
    }


CASES = ["under /proc", "under a regular file", "the regular file itself", "inside a read-only file system",
         "a read-only folder that exists"]


@pytest.mark.parametrize("case", CASES)
def test_run_refuses_a_data_dir_it_cannot_write_naming_it_and_the_fix(
    case: str, tmp_path: Path, a_file: Path, read_only: Path
) -> None:
    # GIVEN a data directory that cannot be created or written
    data_dir, why = bad_data_dirs(tmp_path, a_file, read_only)[case]
    # WHEN energymon run is pointed at it
    result = energymon(*run_args(data_dir), cwd=tmp_path)
    # THEN it refuses, says which path is at fault and how, and which option fixes it
    refused(result, why, "--data-dir")


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(
    "open_adapter",
    [
        lambda d: LocalStream(d / "stream.db", 2),
        lambda d: SqliteStore(d / "store.db"),
        lambda d: SqliteDeadLetters(d / "deadletters.db"),
        lambda d: FolderArchive(d / "archive"),
    ],
    ids=["stream", "store", "dead letters", "archive"],
)
def test_each_local_adapter_raises_a_store_error_naming_the_path(
    case: str, open_adapter: Callable[[Path], object], tmp_path: Path, a_file: Path, read_only: Path
) -> None:
    # GIVEN a data directory that cannot be created or written
    data_dir, why = bad_data_dirs(tmp_path, a_file, read_only)[case]
    # WHEN a local adapter is opened in it
    with pytest.raises(StoreError) as raised:
        open_adapter(data_dir)
    # THEN the error is the project's, names the folder or file and the reason, and says what to do
    message = str(raised.value)
    assert str(data_dir) in message
    assert why in message
    assert "--data-dir" in message


def test_a_file_that_is_not_sqlite_is_named_as_such(tmp_path: Path) -> None:
    # GIVEN a data directory whose store.db is not a SQLite database
    (tmp_path / "store.db").write_text("garbage, not a database\n")
    # WHEN the store is opened
    with pytest.raises(StoreError, match="is not a SQLite database") as raised:
        SqliteStore(tmp_path / "store.db")
    # THEN the message names the file
    assert str(tmp_path / "store.db") in str(raised.value)


def test_a_writable_data_dir_still_opens(tmp_path: Path) -> None:
    # GIVEN a data directory that does not exist yet, in a writable folder
    data_dir = tmp_path / "new" / "data"
    # WHEN the SQLite plumbing opens a file in it
    db = Database(data_dir / "x.db", "CREATE TABLE IF NOT EXISTS t (x INTEGER);")
    # THEN the folder is made and the file works
    db.connection().execute("INSERT INTO t VALUES (1)")
    assert db.connection().execute("SELECT count(*) FROM t").fetchone() == (1,)
    db.close()


# --- 2. a shard count that differs from the existing stream's ----------------------------------------------


@pytest.fixture
def two_shard_data(tmp_path: Path) -> Path:
    """A data directory whose stream was made with 2 shards and holds records and a checkpoint."""
    data_dir = tmp_path / "data"
    stream = LocalStream(data_dir / "stream.db", 2)
    stream.put_records([(f"apt-{i}", f"record {i}".encode()) for i in range(10)])
    stream.set_checkpoint("processor", stream.shard_ids()[0], "1")
    stream.db.close()  # the last connection: the WAL is checkpointed into stream.db and removed
    return data_dir


def test_run_refuses_another_shard_count_naming_both_and_leaves_the_stream_alone(
    two_shard_data: Path, tmp_path: Path
) -> None:
    # GIVEN a data directory whose stream has 2 shards, and a config file asking for 3
    stream_db = two_shard_data / "stream.db"
    before, rows_before = digest(stream_db), dump(stream_db)
    config = tmp_path / "energymon.toml"
    config.write_text("shards = 3\n")
    # WHEN energymon run opens it
    result = energymon(*run_args(two_shard_data, "--config", config), cwd=tmp_path)
    # THEN it refuses, naming both numbers, the stream and both ways out
    refused(result, stream_db, "2 shards", "ask for 3", "shards = 2", "new data directory")
    # AND the stream is exactly as it was
    assert dump(stream_db) == rows_before
    assert digest(stream_db) == before


def test_the_stream_refuses_another_shard_count_with_a_config_error(two_shard_data: Path) -> None:
    # GIVEN a stream made with 2 shards
    stream_db = two_shard_data / "stream.db"
    rows_before = dump(stream_db)
    # WHEN it is reopened with 3
    with pytest.raises(ConfigError) as raised:
        LocalStream(stream_db, 3)
    # THEN the error names the file, both numbers and what to do
    message = str(raised.value)
    for needle in (str(stream_db), "2 shards", "ask for 3", "shards = 2", "ENERGYMON_SHARDS=2", "--data-dir"):
        assert needle in message
    # AND nothing changed: reopened with 2 it holds the same records, checkpoint included
    assert dump(stream_db) == rows_before
    stream = LocalStream(stream_db, 2)
    assert sum(len(stream.get_records(s, None, 100)) for s in stream.shard_ids()) == 10
    assert stream.get_checkpoint("processor", stream.shard_ids()[0]) == "1"


# --- 3. a certificates folder that cannot be written --------------------------------------------------------


@pytest.mark.parametrize("where", ["read-only", "under a file", "under /proc"])
def test_certs_refuses_a_folder_it_cannot_write(where: str, tmp_path: Path, a_file: Path, read_only: Path) -> None:
    # GIVEN a certificates folder that cannot be created or written
    certs_dir, why = {
        "read-only": (read_only / "certs", f"{read_only} cannot be written"),
        "under a file": (a_file / "certs", f"{a_file} is a file, not a folder"),
        "under /proc": (PROC_PATH / "certs", "/proc does not accept new files or folders"),
    }[where]
    # WHEN energymon certs is asked to make a CA and a device certificate there
    result = energymon("certs", "--dir", certs_dir, "-d", "apt-1", cwd=tmp_path)
    # THEN it refuses, naming the file it could not write, why, and the option to change
    refused(result, certs_dir / "ca.key", why, "--dir")


def test_run_secure_refuses_a_certs_dir_it_cannot_write(tmp_path: Path, read_only: Path) -> None:
    # GIVEN secure mode with a certificates folder on a read-only file system
    certs_dir = read_only / "certs"
    # WHEN energymon run --secure starts
    result = energymon(*run_args(tmp_path / "data", "--secure", "--certs-dir", certs_dir), cwd=tmp_path)
    # THEN it refuses before serving, naming the file and the option
    refused(result, certs_dir / "ca.key", f"{read_only} cannot be written", "--certs-dir")


def test_certs_on_a_read_only_folder_that_holds_everything_need_no_write(tmp_path: Path) -> None:
    # GIVEN a complete set of certificates on a folder that was then made read-only
    certs_dir = tmp_path / "pki"
    _mount_tmpfs(certs_dir, "rw")
    try:
        ensure_device(ensure_ca(certs_dir), "apt-1")
        subprocess.run(["mount", "-o", "remount,ro", str(certs_dir)], check=True)  # noqa: S607
        # WHEN energymon certs is run again for the same device
        result = energymon("certs", "--dir", certs_dir, "-d", "apt-1", cwd=tmp_path)
    finally:
        _umount(certs_dir)
    # THEN it succeeds: nothing was missing, so nothing had to be written
    assert result.returncode == 0, result.stderr
    assert "apt-1.crt" in result.stdout


def test_a_ca_certificate_without_its_key_is_named(tmp_path: Path) -> None:
    # GIVEN a certificates folder whose CA key was lost
    ensure_ca(tmp_path / "certs")
    (tmp_path / "certs" / "ca.key").unlink()
    (tmp_path / "certs" / "server.crt").unlink()
    # WHEN energymon certs runs there
    result = energymon("certs", "--dir", tmp_path / "certs", "-d", "apt-1", cwd=tmp_path)
    # THEN it says which file is missing, and how to make a new pair, instead of failing on it
    certs_dir = tmp_path / "certs"
    refused(result, f"{certs_dir / 'ca.crt'} exists but its key {certs_dir / 'ca.key'} does not",
            f"delete {certs_dir / 'ca.crt'}")


# --- 4. device ids that collide with the CA's or the broker's files, or are not device ids -----------------


@pytest.mark.parametrize("device_id", ["ca", "server", "CA", "Server"])
def test_certs_refuses_a_device_id_that_would_be_the_cas_or_the_brokers_files(device_id: str, tmp_path: Path) -> None:
    # GIVEN a certificates folder with its CA and broker certificate
    certs_dir = tmp_path / "certs"
    paths: CertPaths = ensure_ca(certs_dir)
    own = (paths.ca_cert, paths.ca_key, paths.server_cert, paths.server_key)
    before = {p: digest(p) for p in own}
    # WHEN a device certificate is asked for under the CA's or the broker's name
    result = energymon("certs", "--dir", certs_dir, "-d", device_id, cwd=tmp_path)
    # THEN it is refused with the file names and the reason, and no key is handed out as the device's
    stem = device_id.lower()
    refused(result, repr(device_id), f"{stem}.crt", f"{stem}.key", "choose another device id")
    assert f"device {device_id}:" not in result.stdout
    # AND the CA's and the broker's files are untouched
    assert {p: digest(p) for p in own} == before


@pytest.mark.parametrize("device_id", ["apt/1", "apt 1", "apt-1#", "apt+", "Ωmega", "x" * 129])
def test_certs_refuses_an_invalid_device_id_saying_what_a_device_id_is(device_id: str, tmp_path: Path) -> None:
    # GIVEN a certificates folder
    certs_dir = tmp_path / "certs"
    # WHEN a certificate is asked for an id that is not a device id
    result = energymon("certs", "--dir", certs_dir, "-d", device_id, cwd=tmp_path)
    # THEN it is refused, naming the id and what a device id may contain
    refused(result, repr(device_id), "is not a valid device id", "letters, digits")
    assert not (certs_dir / f"{device_id}.key").exists()


# --- 5. an agent buffer that cannot be opened ---------------------------------------------------------------


def agent_args(buffer: Path, broker_port: int, *extra: str | Path) -> list[str | Path]:
    return ["device", "run", "--device-id", "apt-1", "--broker", f"mqtt://127.0.0.1:{broker_port}",
            "--buffer", buffer, "--duration", "2", *extra]


@pytest.mark.parametrize("where", ["read-only", "under a file", "a folder", "not sqlite"])
def test_device_run_refuses_a_buffer_it_cannot_open_naming_the_file(
    where: str, tmp_path: Path, a_file: Path, read_only: Path
) -> None:
    # GIVEN a buffer path that cannot be a SQLite file the agent writes
    junk = tmp_path / "junk.db"
    junk.write_text("not a database\n")
    buffer, why = {
        "read-only": (read_only / "buffer.db", f"{read_only} cannot be written"),
        "under a file": (a_file / "buffer.db", f"{a_file} is a file, not a folder"),
        "a folder": (tmp_path, f"{tmp_path} is a folder, not a file"),
        "not sqlite": (junk, "is not a SQLite database"),
    }[where]
    # WHEN the device agent starts with it (nothing listens on the broker port: it must not get that far)
    result = energymon(*agent_args(buffer, free_port()), cwd=tmp_path)
    # THEN it refuses, naming the buffer, what is wrong and the option
    refused(result, f"buffer {buffer}", why, "--buffer")


def test_the_buffer_raises_a_store_error_naming_the_file(read_only: Path) -> None:
    # GIVEN a buffer path on a read-only file system
    # WHEN the buffer is opened
    with pytest.raises(StoreError) as raised:
        Buffer(read_only / "agent" / "buffer.db")
    # THEN the error names the folder that cannot be made and why
    assert str(read_only / "agent") in str(raised.value)
    assert "cannot be written" in str(raised.value)


# --- 6. an agent whose CA, certificate or key file is missing or unusable ----------------------------------


@pytest.fixture
def device_pki(tmp_path: Path) -> tuple[CertPaths, Path, Path]:
    paths = ensure_ca(tmp_path / "certs")
    device = ensure_device(paths, "apt-1")
    return paths, device.cert, device.key


@pytest.mark.parametrize("missing", ["ca", "cert", "key"])
def test_device_run_refuses_at_start_a_missing_tls_file_naming_it(
    missing: str, tmp_path: Path, device_pki: tuple[CertPaths, Path, Path]
) -> None:
    # GIVEN an agent configured for mTLS where one of the three files does not exist
    paths, cert, key = device_pki
    files = {"ca": paths.ca_cert, "cert": cert, "key": key}
    gone = files[missing] = tmp_path / "nowhere" / f"{missing}.pem"
    # WHEN it starts (against a port nothing listens on: before the fix it retried until --duration ran out)
    result = energymon(
        "device", "run", "--device-id", "apt-1", "--broker", f"mqtts://127.0.0.1:{free_port()}",
        "--ca-file", files["ca"], "--cert-file", files["cert"], "--key-file", files["key"],
        "--buffer", tmp_path / "buffer.db", "--duration", "5", cwd=tmp_path,
    )
    # THEN it refuses at once, naming the setting and the file that is missing
    refused(result, f"{missing}_file (--{missing}-file) {gone} does not exist")
    assert "reconnecting" not in result.stderr


def test_device_run_refuses_a_folder_given_as_the_ca_file(
    tmp_path: Path, device_pki: tuple[CertPaths, Path, Path]
) -> None:
    # GIVEN an agent whose ca_file is a folder (it cannot be read as a file)
    _, cert, key = device_pki
    # WHEN it starts
    result = energymon(
        "device", "run", "--device-id", "apt-1", "--broker", f"mqtts://127.0.0.1:{free_port()}",
        "--ca-file", tmp_path, "--cert-file", cert, "--key-file", key,
        "--buffer", tmp_path / "buffer.db", "--duration", "5", cwd=tmp_path,
    )
    # THEN it refuses, naming it
    refused(result, f"ca_file (--ca-file) {tmp_path} is a folder, not a file")


def test_tls_files_that_are_not_what_they_claim_are_refused_with_the_reason(
    tmp_path: Path, device_pki: tuple[CertPaths, Path, Path]
) -> None:
    # GIVEN a CA file that is not a certificate, a key that belongs to another certificate, an encrypted key
    paths, cert, key = device_pki
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello\n")
    encrypted = tmp_path / "encrypted.key"
    loaded = serialization.load_pem_private_key(key.read_bytes(), password=None)
    encrypted.write_bytes(loaded.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret")))
    # WHEN the agent's start-up check looks at them
    # THEN each is refused with the file named and the reason
    with pytest.raises(ConfigError, match="holds no PEM certificate") as raised:
        check_tls_files(not_pem, cert, key)
    assert str(not_pem) in str(raised.value)
    with pytest.raises(ConfigError, match="not a PEM certificate and its private key") as raised:
        check_tls_files(paths.ca_cert, cert, paths.server_key)
    assert str(paths.server_key) in str(raised.value)
    with pytest.raises(ConfigError, match="is encrypted") as raised:
        check_tls_files(paths.ca_cert, cert, encrypted)
    assert str(encrypted) in str(raised.value)
    # AND the real files pass
    check_tls_files(paths.ca_cert, cert, key)


def test_a_relay_source_refuses_a_missing_home_broker_ca(tmp_path: Path) -> None:
    # GIVEN a Tasmota relay over TLS whose relay_ca_file does not exist
    config = tmp_path / "agent.toml"
    config.write_text(f'relay_ca_file = "{tmp_path / "home-ca.pem"}"\n')
    # WHEN the agent starts
    result = energymon(
        "device", "run", "--config", config, "--device-id", "apt-1", "--source", "tasmota",
        "--relay-broker", f"mqtts://127.0.0.1:{free_port()}", "--broker", f"mqtt://127.0.0.1:{free_port()}",
        "--buffer", tmp_path / "buffer.db", "--duration", "2", cwd=tmp_path,
    )
    # THEN it refuses, naming the setting and the file
    refused(result, f"relay_ca_file {tmp_path / 'home-ca.pem'} does not exist")
