"""Data files on remote storage (XRootD, S3), read where they lie, by byte ranges.

The workflow writes and reads remote files through Snakemake's storage plugins (they copy a
job's inputs in and its outputs out: docs/remote.md). This module is the other side, what
:func:`superruns.load`, :func:`superruns.iter_chunks`, ``recover`` and the planning use when
the configuration has a ``remote:`` section: where a file lies, listings, existence, one
file's bytes by range (:class:`Source`); :mod:`.remote_file` reads data files through it.
It imports no blosc2 (the Snakefile checks its storage settings with it when planning).

The clients are those the storage plugins already need: the ``xrootd`` package
(``XRootD.client.File.read``) and ``boto3`` (``get_object`` with a ``Range``, pinned to the
ETag seen on opening, so a file replaced while being read is refused, not mixed). Both are
imported on first use: without a ``remote:`` section nothing here loads them. Where a remote
file lies: ``{prefix}/{path relative to Snakemake's working directory}``, as Snakemake's
``--default-storage-prefix`` places it (:meth:`RemoteStore.url`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .format import REBUILD, DataCorrupted, DataFileMissing, StorageError

__all__ = ["PROVIDERS", "RemoteError", "RemoteSettings", "Source", "XRootDSource", "S3Source", "RemoteStore",
           "check_snakemake_storage", "snakemake_storage_args", "rucio_did", "parse_rucio_did"]

PROVIDERS = ("xrootd", "s3")


class RemoteError(StorageError):
    """Remote storage cannot be reached or refused a request; the message names the URL and
    what to check."""


@dataclass(frozen=True)
class RemoteSettings:
    """The config's ``remote:`` section."""

    provider: str                   # xrootd | s3
    prefix: str                     # root://host:port//path or s3://bucket/path
    endpoint_url: str | None = None  # S3 only: e.g. http://127.0.0.1:9000 (default: AWS)

    @classmethod
    def from_config(cls, section: dict) -> "RemoteSettings":
        return cls(section["provider"], section["prefix"].rstrip("/"), section.get("endpoint_url"))


class Source:
    """One remote file's bytes by range; counts the requests and bytes it made."""

    url: str
    size: int

    def __init__(self) -> None:
        self.requests = 0
        self.bytes_read = 0

    def read(self, offset: int, n: int) -> bytes:
        if n <= 0:
            return b""
        data = self._read(offset, n)
        self.requests += 1
        self.bytes_read += len(data)
        if len(data) != n:
            raise DataCorrupted(f"{self.url}: {len(data)} bytes at offset {offset}, {n} asked for: the "
                                f"file is shorter than it says. {REBUILD}")
        return data

    def _read(self, offset: int, n: int) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _xrootd_status(status, url: str, doing: str) -> None:
    if status.ok:
        return
    if status.errno == 3011:           # kXR_NotFound
        raise DataFileMissing(f"{url}: no such data file on the XRootD server")
    raise RemoteError(f"{url}: XRootD {doing} failed ({status.message.strip()}); check that the server "
                      "answers (xrdfs HOST ls PATH) and the config's remote: prefix.")


class XRootDSource(Source):
    """A file on an XRootD server, open for the source's life (one connection)."""

    def __init__(self, url: str):
        super().__init__()
        from XRootD import client
        from XRootD.client.flags import OpenFlags

        self.url = url
        self._file = client.File()
        status, _ = self._file.open(url, OpenFlags.READ)
        _xrootd_status(status, url, "open")
        status, info = self._file.stat()
        _xrootd_status(status, url, "stat")
        self.size = int(info.size)
        self.identity = (self.size, int(info.modtime))

    def _read(self, offset: int, n: int) -> bytes:
        status, data = self._file.read(offset, n)
        _xrootd_status(status, self.url, f"read of {n} bytes at {offset}")
        return data

    def close(self) -> None:
        if self._file.is_open():
            self._file.close()


def s3_client(endpoint_url: str | None):
    """A boto3 S3 client: credentials from boto3's usual chain (AWS_ACCESS_KEY_ID, ~/.aws),
    else from Snakemake's S3 plugin variables (SNAKEMAKE_STORAGE_S3_ACCESS_KEY/_SECRET_KEY)."""
    import boto3

    key = os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("SNAKEMAKE_STORAGE_S3_ACCESS_KEY")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY") or os.environ.get("SNAKEMAKE_STORAGE_S3_SECRET_KEY")
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"
    return boto3.client("s3", endpoint_url=endpoint_url, aws_access_key_id=key, aws_secret_access_key=secret,
                        region_name=region)


def _split_s3(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.netloc, parts.path.lstrip("/")


def _s3_error(error, url: str, doing: str) -> StorageError:
    code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
    if code in ("404", "NoSuchKey", "NotFound"):
        return DataFileMissing(f"{url}: no such data file in the bucket")
    if code in ("412", "PreconditionFailed"):
        from .reader import FileChanged

        return FileChanged(f"{url} changed while it was being read (rebuilt since it was opened): load it again.")
    return RemoteError(f"{url}: S3 {doing} failed ({error}); check the endpoint (remote: endpoint_url), the "
                       "credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and the config's remote: prefix.")


class S3Source(Source):
    """An object in an S3 bucket; every range is read at the ETag seen on opening."""

    def __init__(self, url: str, client):
        super().__init__()
        self.url, self._client = url, client
        self.bucket, self.key = _split_s3(url)
        try:
            head = client.head_object(Bucket=self.bucket, Key=self.key)
        except Exception as error:
            raise _s3_error(error, url, "head_object") from None
        self.size = int(head["ContentLength"])
        self.etag = head["ETag"]
        self.identity = (self.size, self.etag)

    def _read(self, offset: int, n: int) -> bytes:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=self.key, IfMatch=self.etag,
                                               Range=f"bytes={offset}-{offset + n - 1}")
            return response["Body"].read()
        except Exception as error:
            raise _s3_error(error, self.url, f"read of {n} bytes at {offset}") from None


class RemoteStore:
    """Where the configuration's data files lie on remote storage, and reads of them there.

    A local path ``{base_dir}/{p}`` (what the rules name, relative to Snakemake's working
    directory) is at ``{prefix}/{p}``, as Snakemake's ``--default-storage-prefix`` puts it."""

    def __init__(self, settings: RemoteSettings, base_dir: Path):
        if settings.provider not in PROVIDERS:
            raise RemoteError(f"remote: provider {settings.provider!r}: give one of {', '.join(PROVIDERS)}")
        self.settings = settings
        self.base_dir = Path(base_dir)
        self._client = None

    def url(self, path: str | Path) -> str:
        relative = Path(os.path.abspath(path)).relative_to(self.base_dir)
        return f"{self.settings.prefix}/{relative.as_posix()}"

    def client(self):
        if self._client is None and self.settings.provider == "s3":
            self._client = s3_client(self.settings.endpoint_url)
        return self._client

    def source(self, path) -> Source:
        url = self.url(path)
        return XRootDSource(url) if self.settings.provider == "xrootd" else S3Source(url, self.client())

    def exists(self, path) -> bool:
        try:
            self.source(path).close()
        except DataFileMissing:
            return False
        return True

    def tree(self, folder) -> dict[str, list[str]]:
        """``{subfolder: [file names]}`` of every file two levels below ``folder`` (runs and
        their files) in one listing: recursive on XRootD, S3 list pages without a delimiter."""
        url = self.url(folder)
        paths = _s3_keys(self.client(), url) if self.settings.provider == "s3" else _xrootd_tree(url)
        tree: dict[str, list[str]] = {}
        for path in paths:
            parts = path.split("/")
            if len(parts) == 2:
                tree.setdefault(parts[0], []).append(parts[1])
        return tree

    def names_in(self, folder) -> list[str]:
        """The names of the files in a folder (a run's), none if it does not exist."""
        url = self.url(folder)
        if self.settings.provider == "s3":
            return _s3_names(self.client(), url)
        return _xrootd_names(url)


def _s3_keys(client, url: str, delimiter: str | None = None) -> list[str]:
    """The keys under ``url`` (a folder), relative to it."""
    bucket, key = _split_s3(url)
    prefix = key.rstrip("/") + "/"
    keys, token = [], None
    while True:
        extra = {"ContinuationToken": token} if token else {}
        if delimiter:
            extra["Delimiter"] = delimiter
        try:
            page = client.list_objects_v2(Bucket=bucket, Prefix=prefix, **extra)
        except Exception as error:
            raise _s3_error(error, url, "list_objects_v2") from None
        keys += [item["Key"][len(prefix):] for item in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            return keys
        token = page["NextContinuationToken"]


def _s3_names(client, url: str) -> list[str]:
    return _s3_keys(client, url, delimiter="/")


def _xrootd_tree(url: str) -> list[str]:
    from XRootD import client
    from XRootD.client.flags import DirListFlags

    parts = client.URL(url)
    filesystem = client.FileSystem(f"{parts.protocol}://{parts.hostid}")
    status, listing = filesystem.dirlist(parts.path, DirListFlags.RECURSIVE)
    if not status.ok and status.errno == 3011:
        return []
    _xrootd_status(status, url, "dirlist")
    return [entry.name for entry in listing]


def _xrootd_names(url: str) -> list[str]:
    from XRootD import client

    parts = client.URL(url)
    filesystem = client.FileSystem(f"{parts.protocol}://{parts.hostid}")
    status, listing = filesystem.dirlist(parts.path)
    if not status.ok and status.errno == 3011:
        return []
    _xrootd_status(status, url, "dirlist")
    return [entry.name for entry in listing]


def check_snakemake_storage(section: dict | None, provider: str | None, prefix: str | None) -> None:
    """Refuse a run whose Snakemake storage (``--default-storage-provider``/``-prefix``) is not
    the config's ``remote:`` section: the jobs would write where the readers do not look."""
    if not section:
        return
    wanted = RemoteSettings.from_config(section)
    given = (provider, (prefix or "").rstrip("/"))
    if given != (wanted.provider, wanted.prefix):
        shown = f"--default-storage-provider {provider} --default-storage-prefix {prefix}" if provider \
            else "no --default-storage-provider"
        raise RemoteError(
            f"the config's remote: says the data lie at {wanted.prefix} ({wanted.provider}), but Snakemake "
            f"was started with {shown}. Fix: snakemake --default-storage-provider {wanted.provider} "
            f"--default-storage-prefix {wanted.prefix} (profiles/{wanted.provider} sets the provider and its "
            "rate limit), or change remote: in the config.")


# -- names in catalogues -------------------------------------------------------------------------------
# A data file is {run_id}/{data_type}-{lineage_hash}; strax names the same folder
# {run_id}-{data_type}-{lineage_hash}. A superrun's name starts with `_`, which Rucio's default
# name rule refuses as a DID's first character (^[A-Za-z0-9][A-Za-z0-9.\-_]{1,250}$). Registered
# in a catalogue, a superrun's files are named `superrun-{name without its _}-...`: run ids hold
# no `-`, so no run's name can take that form, and the mapping is one to one.
SUPERRUN_DID_PREFIX = "superrun-"


def rucio_did(run_id: str, data_type: str, lineage_hash: str, scope: str) -> str:
    """``scope:name`` of a data file in a Rucio catalogue; ``name`` never starts with ``_``."""
    folder = SUPERRUN_DID_PREFIX + run_id[1:] if run_id.startswith("_") else run_id
    return f"{scope}:{folder}-{data_type}-{lineage_hash}"


def parse_rucio_did(did: str) -> tuple[str, str, str]:
    """``(run_id, data_type, lineage_hash)`` of a DID :func:`rucio_did` made."""
    _, _, name = did.rpartition(":")
    superrun = name.startswith(SUPERRUN_DID_PREFIX)
    parts = name[len(SUPERRUN_DID_PREFIX):].split("-") if superrun else name.split("-")
    if len(parts) != 3 or not all(parts) or name.startswith("_"):
        raise ValueError(f"{did!r} is not a superruns DID ({{scope}}:{{run}}-{{data_type}}-{{lineage hash}}, "
                         f"a superrun as {SUPERRUN_DID_PREFIX}{{name without its _}})")
    run_id = "_" + parts[0] if superrun else parts[0]
    return run_id, parts[1], parts[2]


#: The storage plugins' request rate that profiles/remote sets (the XRootD plugin's own is 1/s).
MAX_REQUESTS_PER_SECOND = 1000


def snakemake_storage_args(section: dict | None) -> list[str]:
    """The Snakemake options that put every file where the config's ``remote:`` says (what
    :func:`superruns.make` adds), with profiles/remote's rate limit; none without ``remote:``."""
    if not section:
        return []
    settings = RemoteSettings.from_config(section)
    args = ["--default-storage-provider", settings.provider, "--default-storage-prefix", settings.prefix,
            f"--storage-{settings.provider}-max-requests-per-second", str(MAX_REQUESTS_PER_SECOND)]
    if settings.endpoint_url:
        args += ["--storage-s3-endpoint-url", settings.endpoint_url]
    return args
