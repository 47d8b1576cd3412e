"""The report written by a helper process that imported its libraries while the engine worked.

In a small filing the imports are a large part of the run: WeasyPrint and its kin are about
0.5 s of a 3,000-ride filing's 1 s of imports, work for one core while the second idles (the
engine's part is short). `ReportHelper` starts a process as the command starts; it imports them
on the other core and, once the run has its findings and has drawn the figures, lays out and
writes report.pdf with `verifier.report.render.write_report` (the same function with the same
arguments, so the same bytes) while the run rasterises the figures (which the layout reads only
when it reaches them) and writes report.html and sample.xlsx. Its steps reach the run's progress.
In a large filing the imports overlap the engine anyway; there the helper's gain is that layout
beside the run's own report work (2x10^7 rides: 0.8 s), and the run never loads WeasyPrint.

The helper is a new interpreter (`python -P -m verifier.report.helper FD`), not a fork (a fork
of a process whose engine threads run is not safe) nor multiprocessing's spawn (which runs the
caller's main script again). It runs in a session of its own, so Ctrl-C at the terminal reaches
the run alone, which stops it, as on every way out (`close`); if the run dies, the helper finds
its socket closed and ends. Should the helper fail to start or die, the report is written in the
run's process, as it is without a helper."""

from __future__ import annotations

import copyreg
import io
import os
import pickle
import socket
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from types import MappingProxyType


def main(fd: int) -> None:
    """The helper process: import, wait for one report to write, write it, say how it went."""
    import gc

    gc.disable()  # one report, then the process ends: nothing for collections to win back
    conn = Connection(fd)
    try:
        import verifier.report.fonts  # noqa: F401: its warning filters, before WeasyPrint is imported
        import verifier.report.pdf  # noqa: F401: the point of the helper: WeasyPrint imported while the engine works
        import verifier.report.render as render

        render.prepare()
    except BaseException:  # noqa: BLE001: the run writes the report itself and says what is wrong
        os._exit(1)

    try:
        job = pickle.loads(conn.recv_bytes())
    except (EOFError, OSError):  # the run ended without a report (an error, Ctrl-C)
        return
    try:
        drawn = _Arriving(job["figures_drawn"], lambda: pickle.loads(conn.recv_bytes()))
        render.write_report(Path(job["out_dir"]), job["findings"], job["sample"], job["figures"],
                            lang=job["lang"], drawn=drawn, step=lambda name: conn.send(("step", name)),
                            parts=("pdf",))
        outcome = ("done", None)
    except BaseException as exc:  # noqa: BLE001: the run raises it, as if written in its process
        outcome = ("error", _sendable(exc))
    sys.stdout.flush()  # whatever the libraries printed, before the run stops this process
    sys.stderr.flush()
    conn.send(outcome)
    # Every file is written and closed: leave without freeing the libraries' objects one by one
    # (about 0.25 s the run would otherwise wait for).
    os._exit(0)


class _Arriving(Mapping):
    """The figures' PNGs by name: the names known now, the bytes received (`receive`) when the
    first is asked for; the run rasterises them meanwhile."""

    def __init__(self, names: list[str], receive):
        self._names = list(names)
        self._receive = receive
        self._pngs: dict[str, bytes] | None = None

    def __getitem__(self, name: str) -> bytes:
        if name not in self._names:
            raise KeyError(name)
        if self._pngs is None:
            self._pngs = self._receive()
        return self._pngs[name]

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def _dumps(job) -> bytes:
    """The job pickled; the findings' read-only mappings (MappingProxyType, which pickle refuses)
    as the same read-only mappings."""
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, MappingProxyType: lambda m: (_read_only, (dict(m),))}
    pickler.dump(job)
    return buf.getvalue()


def _read_only(mapping: dict) -> MappingProxyType:
    return MappingProxyType(mapping)


def _sendable(exc: BaseException) -> BaseException:
    """`exc`, or an error that says the same where `exc` does not survive pickling."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001: any reason it cannot cross
        return RuntimeError(f"{type(exc).__name__}: {exc}")


class ReportHelper:
    """A helper process, started now, that writes one report (`write_report`)."""

    def __init__(self):
        # The helper's temporary files (WeasyPrint's copies of the fonts) in a folder of the
        # run's, removed by `close` whichever way the helper ended: stopped with SIGTERM or
        # SIGKILL (Ctrl-C during the report) it removes nothing itself.
        self._tmp = tempfile.mkdtemp(prefix="verifier-report-")
        ours, theirs = socket.socketpair()
        try:
            with theirs:
                self._process = subprocess.Popen(
                    [sys.executable, "-P", "-m", "verifier.report.helper", str(theirs.fileno())],
                    pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, start_new_session=True,
                    env={**os.environ, "TMPDIR": self._tmp})
        except BaseException:
            ours.close()
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise
        self._conn = Connection(ours.detach())
        self._finished = False

    @classmethod
    def start(cls) -> ReportHelper | None:
        """A helper, or None when no process can be started here (the report is written in
        this process then)."""
        try:
            return cls()
        except (OSError, subprocess.SubprocessError):
            return None

    def write_report(self, out_dir: Path, findings, sample, figures, lang: str, step) -> None:
        """verifier.report.render.write_report, shared: the figures drawn here, then the helper
        lays out and writes report.pdf while they are rasterised here and report.html and
        sample.xlsx are written here. All of it here if the helper cannot take it or dies
        meanwhile (whatever it wrote is written again)."""
        from verifier.report.figures import rasterised, report_figures

        step("drawing the figures")  # here, while the helper finishes its imports
        drawing = report_figures(figures, findings.methodology, findings.period, lang)
        job = {"out_dir": str(out_dir), "findings": findings, "sample": sample, "figures": figures, "lang": lang,
               "figures_drawn": list(drawing)}
        announced: list[str] = ["drawing the figures"]
        drawn = None
        try:
            self._conn.send_bytes(_dumps(job))  # the helper starts the layout ...
            drawn = rasterised(drawing)  # ... while the figures are rasterised here
            self._conn.send_bytes(_dumps(drawn))
            sent = True
        except (OSError, pickle.PicklingError):  # the helper is gone, or cannot take it
            sent = False
        if drawn is None:
            drawn = rasterised(drawing)
        from verifier.report.render import PARTS, write_report  # imported while the helper lays out

        try:
            write_report(out_dir, findings, sample, figures, lang=lang, drawn=drawn,
                         parts=tuple(part for part in PARTS if part != "pdf"))  # an error here is the run's
            try:
                done = sent and self._follow(step, announced)
            except (EOFError, OSError):  # the helper died: the PDF is written here
                done = False
        finally:
            self.close()
        if not done:
            write_report(out_dir, findings, sample, figures, lang=lang, drawn=drawn, parts=("pdf",),
                         step=lambda name: None if name in announced else step(name))

    def _follow(self, step, announced: list[str]) -> bool:
        """Relay the helper's steps until it is done (True), or raise the error it met."""
        while True:
            kind, value = self._conn.recv()
            if kind == "step":
                announced.append(value)
                step(value)
                continue
            self._finished = True  # it leaves by itself now
            if kind == "done":
                return True
            raise value

    def close(self) -> None:
        """Stop the helper (done, or no report wanted: an error, Ctrl-C). Idempotent."""
        self._conn.close()
        try:
            self._process.wait(1 if self._finished else 0)
        except subprocess.TimeoutExpired:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self._tmp, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
