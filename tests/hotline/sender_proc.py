"""A sending party as a process (for the fault tests and the benchmark).

``python -m tests.hotline.sender_proc STORE KEY TOKEN BROKER BACKUP TO TOTAL RATE``
sends notices "m1" … "mTOTAL" at about RATE per second. Restarted after a crash, it
tops the outbox up to TOTAL (what was committed before the crash is not made again),
then waits until every message is relayed and acknowledged end to end.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from deconflict.hotline.client import HotlineClient
from deconflict.hotline.client_store import ClientStore
from deconflict.hotline.keys import load_key_file


async def main(argv: list[str]) -> int:
    store_path, key, token, broker, backup, to, total_s, rate_s = argv
    total, rate = int(total_s), float(rate_s)
    store = ClientStore(Path(store_path))
    client = HotlineClient(store, load_key_file(Path(key)), token, broker, backup)
    await client.start()
    try:
        t0 = time.monotonic()
        made = store.outbox_counts()["total"]
        while made < total:
            n = min(50, total - made)
            await client.send_many(
                [("notice", to, f"m{made + i + 1}", None, None) for i in range(n)]
            )
            made += n
            ahead = made / rate - (time.monotonic() - t0)
            if ahead > 0:
                await asyncio.sleep(ahead)
        while True:
            counts = store.outbox_counts()
            if counts["relayed"] == total and counts["acked"] == total:
                return 0
            await asyncio.sleep(0.05)
    finally:
        await client.stop()
        store.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
