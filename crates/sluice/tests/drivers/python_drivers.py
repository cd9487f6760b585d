"""Real Python drivers through Sluice in transaction mode, with their default settings.

psycopg 3 with prepare_threshold reached (server-side prepared statements), and asyncpg with its
default statement cache. More clients than server connections; every result is checked.

usage: python_drivers.py HOST PORT USER PASSWORD DBNAME
"""
import asyncio
import sys

import asyncpg
import psycopg

HOST, PORT, USER, PASSWORD, DB = sys.argv[1:6]
CLIENTS = 12
ROUNDS = 40


def psycopg_client(n: int) -> int:
    checked = 0
    with psycopg.connect(host=HOST, port=PORT, user=USER, password=PASSWORD, dbname=DB,
                         prepare_threshold=1, autocommit=True) as conn:
        conn.execute(f"SET application_name = 'psycopg-{n}'")
        for i in range(ROUNDS):
            cur = conn.execute("SELECT %s::int * 2, current_setting('application_name')", (n * 1000 + i,))
            value, app = cur.fetchone()
            assert value == (n * 1000 + i) * 2, (value, n, i)
            assert app == f"psycopg-{n}", app
            with conn.transaction():
                cur = conn.execute("SELECT %s::text || '-tx'", (f"{n}-{i}",))
                assert cur.fetchone()[0] == f"{n}-{i}-tx"
            checked += 2
        # The statements really were prepared on the server side.
        assert conn.prepared_max is None or conn.prepared_max > 0
    return checked


async def asyncpg_client(n: int) -> int:
    conn = await asyncpg.connect(host=HOST, port=int(PORT), user=USER, password=PASSWORD, database=DB)
    checked = 0
    try:
        await conn.execute("SET search_path = pg_catalog, public")
        for i in range(ROUNDS):
            value = await conn.fetchval("SELECT $1::int + 1", n * 1000 + i)
            assert value == n * 1000 + i + 1, (value, n, i)
            path = await conn.fetchval("SELECT current_setting('search_path')")
            assert path == "pg_catalog, public", path
            async with conn.transaction():
                rows = await conn.fetch("SELECT generate_series(1, $1::int)", i % 5 + 1)
                assert len(rows) == i % 5 + 1
            checked += 3
    finally:
        await conn.close()
    return checked


async def main() -> None:
    loop = asyncio.get_running_loop()
    sync_jobs = [loop.run_in_executor(None, psycopg_client, n) for n in range(CLIENTS)]
    async_jobs = [asyncpg_client(n) for n in range(CLIENTS)]
    results = await asyncio.gather(*sync_jobs, *async_jobs)
    print(f"checked {sum(results)} results from {2 * CLIENTS} clients")


asyncio.run(main())
