"""Listing and hashing trip data a cluster reads where it lives (`data.trips` as an `hdfs://`,
`s3a://` ... URI; verifier.data.uris), for the run's `inputs` block.

The listing is the cluster's own file system client (Hadoop FileSystem through the session's
JVM, with the session's credentials and settings): the Parquet parts of the folder, in name
order, skipping `_` and `.` names as Spark's reader does. Each part's SHA-256 is computed on
the executors (`binaryFiles`: one task per part, the bytes never cross to the driver), so the
figure is of the bytes the verification read, computed by the same cluster; a verifier holding
a copy re-computes it with `sha256sum`. An executor holds one part in memory while it hashes it
(parts are usually 128 MB-1 GB; give executors more memory than the largest part).
"""

from __future__ import annotations

import hashlib

from verifier.data.uris import is_part_file


def list_parts(spark, uri: str) -> list[str]:
    """The Parquet part files `uri` names (itself when a file), fully qualified, in name order."""
    jvm, jsc = spark.sparkContext._jvm, spark.sparkContext._jsc
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(jsc.hadoopConfiguration())
    status = fs.getFileStatus(path)
    if not status.isDirectory():
        return [status.getPath().toString()]
    found = [s.getPath() for s in fs.listStatus(path) if s.isFile() and is_part_file(s.getPath().getName())]
    return [p.toString() for p in sorted(found, key=lambda p: p.getName())]


def uri_parts(spark, uri: str) -> list[tuple[str, str]]:
    """(part URI, SHA-256) for every part `uri` names, in name order, hashed on the executors."""
    parts = list_parts(spark, uri)
    if not parts:
        return []
    digests = dict(spark.sparkContext.binaryFiles(",".join(parts), minPartitions=len(parts))
                   .map(lambda kv: (kv[0].rsplit("/", 1)[-1], hashlib.sha256(kv[1]).hexdigest()))
                   .collect())
    return [(p, digests[p.rsplit("/", 1)[-1]]) for p in parts]
