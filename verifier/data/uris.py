"""Trip data named by URI (`data.trips: hdfs://nn/trips/2024/`): data a cluster reads where it lives.

A URI is kept as its own type, `DataUri` (a `str`), never a `Path`: a Path collapses `//`
(`hdfs://nn/x` would become `hdfs:/nn/x`) and would be resolved against the package folder.
Only an engine that reads URIs (`Engine.reads_uris`: Spark) accepts one; the package folder
rules (inside the folder, regular files) do not apply to it, the cluster's permissions do.

`file://` names the machine's own file system (on a cluster: a path mounted on every executor);
it is listed and hashed here like a package file. Any other scheme (`hdfs://`, `s3a://`,
`abfss://`, `gs://` ...) is listed and hashed by the engine where the data lives
(`Engine.uri_parts`).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

# scheme://... with a scheme of two letters or more (a Windows drive letter `C:/` is not one)
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")
PARQUET_SUFFIX = ".parquet"


class DataUri(str):
    """A URI naming a Parquet file or a folder of Parquet files, exactly as written."""

    @property
    def scheme(self) -> str:
        return urlsplit(self).scheme.lower()

    @property
    def local(self) -> Path | None:
        """The local path of a `file://` URI (None for any other scheme)."""
        if self.scheme != "file":
            return None
        parts = urlsplit(self)
        if parts.netloc not in ("", "localhost"):
            return None
        return Path(unquote(parts.path))

    def child(self, name: str) -> DataUri:
        return DataUri(self.rstrip("/") + "/" + name)


def as_uri(value) -> DataUri | None:
    """`value` as a DataUri when it is written as one (`scheme://...`), else None."""
    return DataUri(value) if isinstance(value, str) and _URI.match(value) else None


def is_part_file(name: str) -> bool:
    """A Parquet part of a folder: Spark and Hadoop skip names starting `_` or `.` (_SUCCESS,
    .crc checksums), and a trips folder holds `.parquet` files."""
    return name.lower().endswith(PARQUET_SUFFIX) and not name.startswith(("_", "."))


def local_parts(uri: DataUri) -> list[DataUri]:
    """A `file://` URI's Parquet parts in name order (the URI itself when it names a file)."""
    path = uri.local
    if path is None or not path.is_dir():
        return [uri]
    return [uri.child(p.name) for p in sorted(path.iterdir()) if is_part_file(p.name)]
