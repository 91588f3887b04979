#!/usr/bin/env python3
"""bench-latency.py URL KEY COUNT

Submits COUNT 5-qubit, 1024-shot circuit jobs one after another and follows each to its result with blocking
queries (GET /api/v1/jobs/{id}?index=N&wait=10s), while the scheduler and simulator batches run. Prints one line:
p50_ms=… p90_ms=… p99_ms=… n=… (from the submit request to the response that shows the job succeeded).
"""
import json
import statistics
import sys
import time
import urllib.request

url, key, count = sys.argv[1].rstrip("/"), sys.argv[2], int(sys.argv[3])
program = ('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[5];\ncreg c[5];\nh q[0];\ncx q[0],q[1];\ncx q[1],q[2];\n'
           'cx q[2],q[3];\ncx q[3],q[4];\nrz(0.3) q[2];\nmeasure q -> c;\n')


def call(method, path, body=None):
    request = urllib.request.Request(url + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read()), response.headers


latencies = []
for n in range(count):
    start = time.perf_counter()
    job, headers = call("POST", "/api/v1/jobs", {"name": f"latency-{n}", "target": "sim-statevector", "kind": "circuit",
                                                 "program": program, "shots": 1024})
    index = int(headers["X-Switchyard-Index"])
    while job["state"] not in ("succeeded", "failed", "cancelled", "timed_out"):
        job, headers = call("GET", f"/api/v1/jobs/{job['id']}?index={index}&wait=10s")
        index = int(headers["X-Switchyard-Index"])
    if job["state"] != "succeeded":
        sys.exit(f"job {job['id']} ended {job['state']}: {job.get('error')}")
    latencies.append((time.perf_counter() - start) * 1000)
latencies.sort()
print(f"p50_ms={statistics.median(latencies):.1f} p90_ms={latencies[int(0.9 * (len(latencies) - 1))]:.1f} "
      f"p99_ms={latencies[int(0.99 * (len(latencies) - 1))]:.1f} n={len(latencies)}")
