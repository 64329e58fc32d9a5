"""A controller process for the kill test: install bank-wan's intents over NETCONF, print
`installed`, then re-place after a cut (the test kills it during that transaction)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from controller.engine import Engine
from controller.intentfile import load_intents
from controller.southbound.inventory import load_inventory
from controller.southbound.netconf import NetconfSouthbound
from controller.southbound.transaction import TransactionOptions
from controller.store import Store
from controller.topology import LinkState
from topologies.loader import load


def main(db: str, inventory: str, intents: str) -> None:
    store = Store(Path(db))
    store.apply_intents(load_intents(Path(intents)), actor="test")
    south = NetconfSouthbound(
        load_inventory(Path(inventory)),
        transaction_options=TransactionOptions(confirm_timeout_s=2),
    )
    engine = Engine(load("bank-wan"), store, south, time.time)

    async def go() -> None:
        await engine.start()
        print("installed", flush=True)
        await engine.link_state("BR1-P-SH", LinkState.DOWN, "cut")
        print("done", flush=True)

    asyncio.run(go())


if __name__ == "__main__":
    main(*sys.argv[1:4])
