"""The TTL-after-finished controller with the Job controller and the garbage collector: a finished
Job is deleted `ttlSecondsAfterFinished` after it finished (on the injected clock), its pods with it;
an unfinished Job or one without a TTL stays."""
from __future__ import annotations

from minik8s.api.clock import FakeClock
from minik8s.api.errors import NotFound
from support import running_manager, wait_for
from test_controllers_job import NS, finish, job, job_pods, job_with, n_pods


async def _gone(client, name):
    try:
        await client.get("Job", name, NS)
    except NotFound:
        return True
    return False


async def _no_pods(client, j):
    return not await job_pods(client, j, include_terminating=True)


async def test_finished_jobs_are_deleted_with_their_pods_after_the_ttl(srv, admin):
    clock = FakeClock()
    async with srv.async_client("controller-manager") as cm, \
            running_manager(cm, "job,ttl-after-finished,garbagecollector", clock):
        now = job("now", ttlSecondsAfterFinished=0)
        later = job("later", ttlSecondsAfterFinished=100)
        keep = job("keep")
        jobs = {j.metadata.name: await admin.create(j) for j in (now, later, keep)}
        for name, j in jobs.items():
            pod = (await wait_for(lambda: n_pods(admin, j, 1), what=f"{name}'s pod"))[0]
            await finish(admin, pod, clock)
            if name != "now":
                await wait_for(lambda: job_with(admin, name, lambda j: j.status.completionTime),
                               what=f"{name} complete")

        await wait_for(lambda: _gone(admin, "now"), what="the ttl 0 job deleted")
        await wait_for(lambda: _no_pods(admin, jobs["now"]), what="its pods deleted")

        clock.advance(99)
        await admin.get("Job", "later", NS)
        assert len(await job_pods(admin, jobs["later"])) == 1
        clock.advance(2)
        await wait_for(lambda: _gone(admin, "later"), what="the ttl 100 job deleted after 100 s")
        await wait_for(lambda: _no_pods(admin, jobs["later"]), what="its pods deleted")

        clock.advance(10_000)
        assert (await admin.get("Job", "keep", NS)).status.succeeded == 1
