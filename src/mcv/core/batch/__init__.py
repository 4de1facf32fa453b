"""Batches: a task over whole folders of images, with progress, resume and sidecars.

    from mcv.core.batch import BatchJob, run_batch
    for event in run_batch(settings, BatchJob(["photos/"], preset=find_preset(config, "alt"), xmp=True)):
        ...   # Started, Note*, ItemDone*, Finished (engine.py)

The engine (engine.py) overlaps three things: files are read, hashed and
prepared in a process pool (prep.py); prepared images are answered by one
lane per engine slot, across one or more engines (dispatch.py), each lane
asking through its own core Session with the task's preset and schema
(core/presets.py, core/structured.py); results are written as they come
(records.py: JSONL/CSV; sidecars.py and xmp.py beside the images).
Surfaces only show the events.
"""

from mcv.core.batch.engine import BatchJob, Finished, ItemDone, Note, Started, Tally, run_batch
from mcv.core.batch.records import Record

__all__ = ["BatchJob", "Finished", "ItemDone", "Note", "Record", "Started", "Tally", "run_batch"]
