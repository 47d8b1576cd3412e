"""A child process started as from a terminal, for the tests that send it Ctrl-C (SIGINT).

A test run started in the background (a non-interactive shell's `cmd &`, as CI scripts and
`nohup` do) ignores SIGINT, and a child inherits an ignored signal across exec: Ctrl-C would
then never reach the program under test, which would finish as if nobody had pressed it."""

from __future__ import annotations

import sys

_RESET_THEN_EXEC = ("import os, signal, sys\n"
                    "signal.signal(signal.SIGINT, signal.SIG_DFL)\n"
                    "os.execv(sys.argv[1], sys.argv[1:])\n")


def at_a_terminal(cmd: list[str]) -> list[str]:
    """`cmd` (its program named by path) run with SIGINT's default disposition, whatever this
    process's is: a Python program then turns Ctrl-C into KeyboardInterrupt, as at a terminal."""
    return [sys.executable, "-c", _RESET_THEN_EXEC, *map(str, cmd)]
