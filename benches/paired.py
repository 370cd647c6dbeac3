#!/usr/bin/env python3
"""Paired rounds: server CPU per challenge request of several servers, measured
in short alternating `wrk -t1` rounds on one machine, so that a ratio taken
within one round is steadier than either figure on a shared machine.

Usage: benches/paired.py [--rounds N] [--connections C] NAME=COMMAND ...

Each COMMAND starts a server that prints its URL (persona-mock's ready line,
or the load bench's `--serve-baseline`) and serves the challenge endpoint.
Servers are pinned to CPU 1 and wrk to CPU 0. Every round runs each server
for 1 s, in the order given and then (next round) reversed, so the order
within a round averages out. CPU is the sum of the server's threads'
`/proc/PID/task/*/schedstat` run time. Prints each server's median CPU per
request, the median per-round ratio of the first server to each other, and
of each later server's CPU to each after it (two builds compared directly),
each with a bootstrap 95% interval of that median.
"""

import argparse
import os
import random
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

BODY = '{"claim-type":"age_over18_verified"}'


def cpu_ns(pid):
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def start(command):
    process = subprocess.Popen(
        ["taskset", "-c", "1", *shlex.split(command)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = process.stdout.readline()
    match = re.search(r"(?:http://)?([0-9.]+:[0-9]+)", line)
    if not match:
        process.kill()
        sys.exit(f"{command!r} printed no address: {line!r}")
    return process, "http://" + match.group(1)


def round_of(pid, url, script, connections):
    before = cpu_ns(pid)
    out = subprocess.run(
        ["taskset", "-c", "0", "wrk", "-t1", f"-c{connections}", "-d1s", "-s", script, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    used = cpu_ns(pid) - before
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return used / max(requests, 1)


def interval(values, draws=2000):
    """A bootstrap 95% interval of the median of `values` (seeded, so a run's
    figures can be printed again from the same rounds)."""
    pick = random.Random(1)
    medians = sorted(
        statistics.median(pick.choices(values, k=len(values))) for _ in range(draws)
    )
    return medians[int(draws * 0.025)], medians[int(draws * 0.975) - 1]


def report(name, values):
    low, high = interval(values)
    print(f"  {name}: {statistics.median(values):.3f} (median of per-round ratios; 95% interval {low:.3f}-{high:.3f})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("servers", nargs="+", help="NAME=COMMAND")
    args = parser.parse_args()
    servers = []
    for spec in args.servers:
        name, command = spec.split("=", 1)
        process, url = start(command)
        servers.append((name, process, url + "/api/privacy/v1/relays/challenge"))
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(
        f"wrk.method = \"POST\"\nwrk.body = '{BODY}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    script.close()
    try:
        time.sleep(2)  # keys made, caches warm
        for _, process, url in servers:
            round_of(process.pid, url, script.name, args.connections)
        per = {name: [] for name, _, _ in servers}
        for r in range(args.rounds):
            order = servers if r % 2 == 0 else servers[::-1]
            for name, process, url in order:
                per[name].append(round_of(process.pid, url, script.name, args.connections))
        print(f"{args.rounds} rounds, {args.connections} connections, orders alternating")
        for name, values in per.items():
            print(f"  {name}: {statistics.median(values) / 1000:.2f} us CPU per request (median)")
        names = list(per)
        first = names[0]
        for name in names[1:]:
            report(f"{first} / {name}", [a / b for a, b in zip(per[first], per[name])])
        for i, one in enumerate(names[1:], 1):
            for other in names[i + 1:]:
                report(
                    f"{one} CPU / {other} CPU",
                    [a / b for a, b in zip(per[one], per[other])],
                )
    finally:
        os.unlink(script.name)
        for _, process, _ in servers:
            process.kill()


if __name__ == "__main__":
    main()
