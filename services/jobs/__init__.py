"""The jobs worker (resources.md §7): bulk number import in chunks, with durable progress and recovery.

- `handlers`: the API (PUT / GET `…/resources/jobs[/{id}]`) on `offnet.jobs.api`.
- `repository`: month DBs, job and result docs, settings.
- `executor`: claim and run one job, chunk by chunk, through the numbers domain code and `NumberStore`.
- `runner`: the slots of this process and the consumer of the durable queue `offnet.resource_jobs`.
- `recovery`: the walker that resumes stalled jobs.
"""
