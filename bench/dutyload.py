"""A fixed-rate write load on a MariaDB database (the bench's stand-in for sysbench, which
the lab image and its Debian sources do not have): runs on the database host
(`podman exec -i <host> python3 - ...` with this file on stdin), PyMySQL over the unix
socket as root, N connections, each issuing its share of --rate transactions per second
on a fixed schedule (as pgbench -R does). One JSON line per transaction on stdout:
{"start": scheduled start (epoch s), "ms": latency from the scheduled start}, so a write
that waited behind a lock, and the ones queued behind it, count their whole wait; a
failed transaction prints {"error": ..., "start": ...}. Stops after --seconds or as soon
as the file --stop-file exists.

The transaction: one INSERT of a row into --table (columns id AUTO_INCREMENT, payload),
autocommit."""

import argparse
import json
import os
import sys
import threading
import time

import pymysql


def worker(args, index, lock, deadline):
    conn = pymysql.connect(unix_socket=args.socket, user='root', database=args.database, autocommit=True)
    cur = conn.cursor()
    interval = args.connections / float(args.rate)
    scheduled = time.time() + index * interval / args.connections
    payload = 'x' * args.payload
    while scheduled < deadline and not os.path.exists(args.stop_file):
        now = time.time()
        if scheduled > now:
            time.sleep(scheduled - now)
        try:
            cur.execute('INSERT INTO %s (payload) VALUES (%%s)' % args.table, (payload,))
            line = {'start': round(scheduled, 6), 'ms': round((time.time() - scheduled) * 1000.0, 3)}
        except pymysql.MySQLError as exc:
            line = {'start': round(scheduled, 6), 'error': str(exc.args[0]) if exc.args else 'error'}
        with lock:
            sys.stdout.write(json.dumps(line) + '\n')
        scheduled += interval
    conn.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--database', required=True)
    parser.add_argument('--table', required=True)
    parser.add_argument('--rate', type=float, default=50.0, help='transactions per second, all connections')
    parser.add_argument('--connections', type=int, default=2)
    parser.add_argument('--seconds', type=float, default=600.0)
    parser.add_argument('--payload', type=int, default=200)
    parser.add_argument('--socket', default='/run/mysqld/mysqld.sock')
    parser.add_argument('--stop-file', default='/tmp/dutyload.stop')
    args = parser.parse_args()
    lock = threading.Lock()
    deadline = time.time() + args.seconds
    threads = [threading.Thread(target=worker, args=(args, i, lock, deadline))
               for i in range(args.connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sys.stdout.flush()


if __name__ == '__main__':
    main()
