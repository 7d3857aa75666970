"""Run many ``dorsum`` command lines, each in a process of its own, and report how each ended.

Used by tests/test_hostile.py: ``python tests/hostile_driver.py JOBS.json RESULTS.json``. The
driver imports the command line and loads the knowledge once, then forks one child per job: the
child runs ``reasoner.cli.main`` (what ``python -m reasoner`` runs) with the job's arguments and
environment, under an address-space limit, with its output captured; the parent kills it at the
job's time limit. Each result records the exit code, the output, the seconds taken and the
child's peak resident memory. Forking saves the ~1-2 s interpreter and knowledge start-up of
each case, so a corpus of a hundred inputs runs in seconds.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import tempfile
import time
import traceback
from typing import Any

MEMORY_LIMIT = 1 << 30  # bytes of address space per case
EXIT_CRASHED = 99  # the child raised past the command line (never expected)


def run_job(job: dict[str, Any], command: Any) -> dict[str, Any]:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush()
        sys.stderr.flush()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            _child(job, command, out.fileno(), err.fileno())
        timed_out = False
        while True:
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() - started > job["timeout"]:
                os.kill(pid, signal.SIGKILL)
                done, status, usage = os.wait4(pid, 0)
                timed_out = True
                break
            time.sleep(0.002)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return {
            "name": job["name"],
            "exit_code": os.waitstatus_to_exitcode(status),
            "stdout": out.read().decode("utf-8", "replace"),
            "stderr": err.read().decode("utf-8", "replace"),
            "seconds": round(seconds, 3),
            "max_rss_kib": usage.ru_maxrss,
            "timed_out": timed_out,
        }


def _child(job: dict[str, Any], command: Any, out: int, err: int) -> None:
    code = EXIT_CRASHED
    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.environ.update(job.get("env", {}))
        try:
            command.main(args=job["args"], prog_name="dorsum", standalone_mode=True)
            code = 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
    finally:
        os._exit(code)


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as stream:
        jobs = json.load(stream)
    from reasoner.cli import batch, case  # noqa: F401 (imported once, before forking)
    from reasoner.cli import main as command
    from reasoner.knowledge import load_knowledge
    from reasoner.pipeline import read, triage, validate  # noqa: F401
    from reasoner.render import render  # noqa: F401

    knowledge = load_knowledge()
    # Warm the engine once (rules compiled, queries prepared), so that no child pays for it.
    warm = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "examples", "small-soft-lump.yaml")
    triage.triage(read.read_case(warm, knowledge), knowledge)
    results = [run_job(job, command) for job in jobs]
    with open(sys.argv[2], "w", encoding="utf-8") as stream:
        json.dump(results, stream)


if __name__ == "__main__":
    main()
