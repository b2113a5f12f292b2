"""Job kinds for the jobs framework's tests, registered like any feature's (console/jobs/__init__.py).

Imported by the tests, and by the Celery worker the worker-kill tests start (`-I tests.console.jobs_testkinds`).
"""

from __future__ import annotations

import time
from typing import Any

from console.jobs.framework import JobContext, JobFailed, job_task


def _steps(job: JobContext) -> dict[str, Any]:
    steps, delay = int(job.params.get("steps", 3)), float(job.params.get("delay", 0.0))
    for i in range(steps):
        job.check_cancelled()
        job.item(f"step-{i}", label=f"Step {i + 1}", status="Working", current=0, total=100)
        time.sleep(delay)
        job.item(f"step-{i}", status="Done", current=100, total=100)
        job.log(f"step {i + 1} of {steps} done (run {job.run})")
        job.progress((i + 1) / steps, f"Step {i + 1} of {steps}")
    return {"steps": steps, "run": job.run}


steps = job_task("test.steps")(_steps)
once = job_task("test.once", rerun=False)(_steps)


@job_task("test.fail")
def fail(job: JobContext) -> None:
    job.log("about to fail")
    raise JobFailed(job.params.get("message", "it went wrong"))


@job_task("test.crash")
def crash(job: JobContext) -> None:
    raise ValueError("boom")


@job_task("test.chatty")
def chatty(job: JobContext) -> dict[str, int]:
    """Writes `chars` characters of log in lines of 100."""
    chars = int(job.params.get("chars", 1000))
    for _ in range(chars // 100):
        job.write("x" * 99 + "\n")
    return {"written": chars}
