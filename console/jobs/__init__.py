"""Background jobs: long work (pull, push, build, load, prunes, bulk actions, volume export/import,
stack deploys) run by Celery workers, with live progress, a bounded log and an outcome a person can read.

How another feature runs something as a job
-------------------------------------------

1. Write a handler and register it under a kind, in your app's ``tasks.py`` (or a module that
   ``tasks.py`` imports), so that Celery's autodiscovery loads it in every worker::

       from console.jobs.framework import JobContext, JobFailed, job_task

       @job_task("volume.export")                  # rerun=False if running it twice would do harm
       def export_volume(job: JobContext) -> dict:
           name = job.params["name"]              # what start_job() was given (JSON; no secrets!)
           with job.engine(timeout=600) as client:  # docker.DockerClient for job.endpoint
               job.status("Reading the volume")    # the one-line status under the bar
               job.progress(0.5)                   # 0..1, or None for "unknown" (indeterminate bar)
               job.item("layer-1", label="sha256:ab12", status="Downloading", current=10, total=100)
               job.log("a line for the job's log")  # job.write(text) appends raw text (streams)
               job.check_cancelled()               # raises JobCancelled once the user clicked Cancel
               path = job.file("archive")          # an upload handed to start_job(files=…)
           if something_wrong:
               raise JobFailed("what went wrong, in words a person can act on")
           return {"size": 123, "links": [{"label": "Open volume", "url": "/…"}]}  # stored as the result

   ``job.on_cancel(fn)`` registers ``fn`` to be called (from another thread) when a cancel is
   asked for — e.g. to close an engine stream that blocks. ``EngineError`` and ``JobFailed`` end
   the job "failed" with their message; any other exception too, as "<type>: <message>" (the
   traceback goes to the worker's log only). The ``links`` of a result become buttons on the job page.

2. Start it from a view or the API (inside the request's transaction; it is sent to the broker
   when the transaction commits)::

       from console.jobs.framework import start_job

       job = start_job("volume.export", request=request, endpoint=endpoint,
                       title=f"Export volume {name}", params={"name": name},
                       files={"archive": request.FILES["archive"]})  # optional uploads
       return redirect(job.get_absolute_url())                       # the job page, live

   ``start_job`` records "job.start" in the activity log; the worker records the outcome under the
   job's kind (e.g. "volume.export", success or failure, with the error message).

3. Test it: run a job in the test process as a worker would, with
   ``console.jobs.framework.execute(job.pk, job.dispatches)`` (the test needs
   ``pytest.mark.django_db(transaction=True)``: the job's reporter thread has its own database
   connection). tests/console/test_images_pages.py does this for builds, with the job's websocket.

What the framework promises
---------------------------

- States: queued → running → succeeded | failed | cancelled. A job is never left "running" without a
  worker: workers send a heartbeat every few seconds; when a worker starts, and every 30 s from the
  beat (``jobs.sweep``), jobs whose worker is gone (dead pid on this host, or no heartbeat for
  ``STALE_AFTER`` seconds) are queued again — at most ``MAX_RUNS`` runs — or failed with the reason
  (kinds registered with ``rerun=False`` are failed at once). Queued jobs survive a worker restart: a
  starting worker sends every queued job again; stale copies of a message are recognised by the
  job's dispatch counter and dropped. Celery options: ``acks_late`` + ``reject_on_worker_lost``.
- Progress reaches browsers over the channel layer (console/jobs/events.py) at most every
  ``PUBLISH_INTERVAL`` seconds, after it is written to the database, so a page that loads the job
  and then follows its socket misses nothing.
- The log keeps the last ``MAX_LOG_CHARS`` characters. Uploads are removed when the job ends.

Modules: models.py (Job), framework.py (job_task, start_job, JobContext, execute), reporting.py (the
thread that writes and publishes progress), recovery.py (orphans and heartbeats), events.py (groups
and message shapes), consumers.py (websockets), views.py (pages), tasks.py (sweep, worker start).
"""
