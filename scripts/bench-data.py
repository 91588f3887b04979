#!/usr/bin/env python3
"""bench-data.py DIR PRINCIPALS KEYS_PER_PRINCIPAL JOBS

Writes the benchmark's fixtures into DIR, for a freshly migrated database:
  seed.sql   principals with the `bench` role, their API keys (SHA-256 only) and queued jobs, as COPY data
  keys.txt   every key, one a line (the load scripts' BENCH_KEYS)
  pairs.txt  "job_id key" lines, the key one of the job owner's (BENCH_PAIRS, LP_JOBS)
Keys are made the way Switchyard makes them: "sy_" + base64url(32 random bytes), stored as the SHA-256 of the
text under its first 12 characters (the prefix). Principal ids start at 100001 and job ids at 1.
"""
import base64
import hashlib
import os
import random
import secrets
import sys

directory, principals, per_principal, jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
os.makedirs(directory, exist_ok=True)
program = 'OPENQASM 2.0;\\ninclude "qelib1.inc";\\nqreg q[2];\\ncreg c[2];\\nh q[0];\\ncx q[0],q[1];\\nmeasure q -> c;\\n'
base = 100000
keys_of = {}
with open(os.path.join(directory, "seed.sql"), "w") as sql, open(os.path.join(directory, "keys.txt"), "w") as keys:
    sql.write("BEGIN;\nCOPY principal (id, name, display_name) FROM stdin;\n")
    for p in range(1, principals + 1):
        sql.write(f"{base + p}\tbench-{p}\tbench principal {p}\n")
    sql.write("\\.\n")
    sql.write("SELECT setval('principal_id_seq', (SELECT max(id) FROM principal));\n")
    sql.write("INSERT INTO principal_role (principal_id, role_name) SELECT id, 'bench' FROM principal WHERE name LIKE 'bench-%';\n")
    sql.write("COPY api_key (prefix, secret_hash, principal_id, kind, scopes, description) FROM stdin;\n")
    for p in range(1, principals + 1):
        for _ in range(per_principal):
            key = "sy_" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
            digest = hashlib.sha256(key.encode()).hexdigest()
            sql.write(f"{key[:12]}\t\\\\x{digest}\t{base + p}\tlong_lived\t{{*}}\tbench\n")
            keys.write(key + "\n")
            keys_of.setdefault(p, []).append(key)
    sql.write("\\.\nCOPY job (id, owner_id, name, kind, target, program, shots, qubits) FROM stdin;\n")
    for j in range(1, jobs + 1):
        sql.write(f"{j}\t{base + 1 + j % principals}\tbench-{j}\tcircuit\tsim-statevector\t{program}\t100\t2\n")
    sql.write("\\.\n")
    sql.write("SELECT setval('job_id_seq', (SELECT max(id) FROM job));\nCOMMIT;\n")
with open(os.path.join(directory, "pairs.txt"), "w") as pairs:
    for j in range(1, jobs + 1):
        pairs.write(f"{j} {random.choice(keys_of[1 + j % principals])}\n")
