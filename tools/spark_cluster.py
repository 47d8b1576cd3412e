"""A Spark standalone cluster on loopback, for the cluster test and the benchmark: one master and
N workers, each its own JVM (pyspark's bin/spark-class), so executors run in other processes
than the driver and shuffles cross the network, as on a real cluster.

    with standalone_cluster(tmp, workers=2) as cluster:
        run(["verifier", "verify", PKG, "--engine", "spark", "--spark-master", cluster.master, ...])

The workers' executors start their Python with PYSPARK_PYTHON (this interpreter) and the
checkout on PYTHONPATH, so they import this `verifier` (on a real cluster: the wheel installed on
every node, or `spark-submit --py-files`). Every process is stopped on leaving, also on failure:
each runs in its own process group, which is terminated, then killed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


@dataclass
class Cluster:
    master: str  # spark://127.0.0.1:PORT
    ui: str  # the master's web UI (its /json/ lists the workers)
    processes: list[subprocess.Popen] = field(default_factory=list)
    logs: Path | None = None

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def java_home() -> str | None:
    """JAVA_HOME as set, else the runtime `java` on PATH belongs to (Debian: a symlink chain
    into /usr/lib/jvm/...), else None (spark-class then fails naming Java)."""
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    from shutil import which

    java = which("java")
    return str(Path(os.path.realpath(java)).parents[1]) if java else None


def cluster_env(work: Path) -> dict[str, str]:
    env = {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_LOG_DIR": str(work / "logs"), "SPARK_WORKER_DIR": str(work / "worker"),
           "PYSPARK_PYTHON": sys.executable,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")]))}
    home = java_home()
    if home:
        env["JAVA_HOME"] = home
    return env


@contextmanager
def standalone_cluster(work: Path, workers: int = 2, cores: int = 1, memory: str = "1g", timeout: float = 90):
    """Start a master and `workers` workers (`cores` cores and `memory` each) on 127.0.0.1;
    yield the Cluster once every worker has registered; stop them all on leaving."""
    work.mkdir(parents=True, exist_ok=True)
    env = cluster_env(work)
    port, ui_port = free_port(), free_port()
    cluster = Cluster(master=f"spark://127.0.0.1:{port}", ui=f"http://127.0.0.1:{ui_port}", logs=work)
    try:
        cluster.processes.append(_start(work / "master.log", env, "org.apache.spark.deploy.master.Master",
                                        "--host", "127.0.0.1", "--port", port, "--webui-port", ui_port))
        for i in range(workers):
            cluster.processes.append(_start(
                work / f"worker-{i}.log", env, "org.apache.spark.deploy.worker.Worker",
                "--host", "127.0.0.1", "--port", free_port(), "--webui-port", free_port(),
                "--cores", cores, "--memory", memory, "--work-dir", work / f"worker-{i}", cluster.master))
        _wait_for_workers(cluster, workers, timeout)
        yield cluster
    finally:
        stop(cluster.processes)


def _start(log: Path, env: dict, main_class: str, *args) -> subprocess.Popen:
    with open(log, "wb") as out:  # the child holds its own descriptor
        return subprocess.Popen([str(spark_home() / "bin" / "spark-class"), main_class, *map(str, args)],
                                env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def alive_workers(cluster: Cluster) -> int:
    try:
        with urllib.request.urlopen(cluster.ui + "/json/", timeout=2) as r:
            return int(json.load(r).get("aliveworkers", 0))
    except OSError:
        return 0


def _wait_for_workers(cluster: Cluster, workers: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while alive_workers(cluster) < workers:
        dead = [p for p in cluster.processes if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            logs = "; ".join(f"{f.name}: {f.read_text(errors='replace')[-400:]}" for f in sorted(cluster.logs.glob("*.log")))
            raise RuntimeError(f"the standalone cluster did not start ({len(dead)} exited): {logs}")
        time.sleep(0.5)


def stop(processes: list[subprocess.Popen], grace: float = 15) -> None:
    """Terminate each process group (the JVM and anything it started), then kill what is left."""
    for p in processes:
        _signal(p, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in processes:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal(p, signal.SIGKILL)
            p.wait(timeout=10)


def _signal(p: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(p.pid, sig)
    except ProcessLookupError:
        pass
