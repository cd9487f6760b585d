"""The direct client of the failover benchmark: libpq with a multi-host connection string and
target_session_attrs=read-write, reconnecting after every error. Prints one line per write:
"ok <unix ns>" or "err <unix ns> <message>"."""

import sys
import time

import psycopg

RETRY_PAUSE = 0.01


def main() -> None:
    conninfo = sys.argv[1]
    conn = None
    while True:
        try:
            if conn is None or conn.closed:
                conn = psycopg.connect(conninfo, autocommit=True)
            conn.execute("INSERT INTO writes VALUES (now())")
            print("ok", time.time_ns(), flush=True)
        except psycopg.Error as e:
            first_line = (str(e).splitlines() or [type(e).__name__])[0]
            print("err", time.time_ns(), first_line, flush=True)
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(RETRY_PAUSE)


if __name__ == "__main__":
    try:
        main()
    except (KeyboardInterrupt, BrokenPipeError):
        pass
