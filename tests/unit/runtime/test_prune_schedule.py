"""When a running worker or embedded pipeline calls MetricEngine.prune (metricsync/pruning.py)."""

from metricsync.pruning import PRUNE_BATCH, PRUNE_INTERVAL, PruneSchedule


def test_prune_at_the_first_batch_then_every_interval_and_again_while_batches_come_back_full() -> None:
    now = [1000.0]
    schedule = PruneSchedule(lambda: now[0])
    assert schedule.due()  # the first batch
    schedule.done(0)
    assert not schedule.due()
    now[0] += PRUNE_INTERVAL - 1
    assert not schedule.due()
    now[0] += 1
    assert schedule.due()
    schedule.done(PRUNE_BATCH)  # a full batch: more may be due
    assert schedule.due()
    schedule.done(PRUNE_BATCH - 1)
    assert not schedule.due()
    schedule.done(5, limit=None)  # no limit: everything due was done
    assert not schedule.due()
