"""Libra's test suite.

One OpenBLAS thread: numpy's dot products (the voice tests' signal comparisons) then
run on the calling thread. With a thread per core, OpenBLAS's workers spin and wait
for each other; on a busy two-core machine one comparison held the event loop for up
to 7 s, long enough for the fake voice server to drop the bot for a missed heartbeat.
Set here, before anything imports numpy (OpenBLAS reads it once, when it loads).
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
