#!/usr/bin/env python3
"""compare_probabilities.py OURS_JSON EXACT_NPZ [--tolerance 1e-9]

Compares the simulator's `--probabilities` output (one JSON line with a "probabilities" object
keyed like counts) with the exact distribution written by exact_probs.py (.probs.npz: idx, p,
n_clbits).  Outcomes missing on one side count as probability 0, so a missing or extra outcome
is caught as well as a wrong value.  Prints one line and exits 0 when the largest absolute
difference is below the tolerance, 1 otherwise, 2 on malformed input.
"""
import argparse
import json
import sys

import numpy as np


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("ours")
    parser.add_argument("exact")
    parser.add_argument("--tolerance", type=float, default=1e-9)
    args = parser.parse_args()
    try:
        with open(args.ours) as handle:
            ours = json.load(handle)["probabilities"]
        exact = np.load(args.exact)
        n_clbits = int(exact["n_clbits"])
        reference = {int(i): float(p) for i, p in zip(exact["idx"], exact["p"])}
        mine = {}
        for key, probability in ours.items():
            bits = key.replace(" ", "")
            if len(bits) != n_clbits or set(bits) - {"0", "1"}:
                raise ValueError(f"bad key {key!r} for {n_clbits} clbits")
            mine[int(bits, 2)] = mine.get(int(bits, 2), 0.0) + float(probability)
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as error:
        print(f"ERROR {error}")
        return 2
    worst, worst_outcome = 0.0, None
    for outcome in set(reference) | set(mine):
        difference = abs(reference.get(outcome, 0.0) - mine.get(outcome, 0.0))
        if difference > worst:
            worst, worst_outcome = difference, outcome
    verdict = "PASS" if worst < args.tolerance else "FAIL"
    where = "" if worst_outcome is None else f" at {format(worst_outcome, f'0{n_clbits}b')}"
    print(f"{verdict} max|dp|={worst:.3g}{where} outcomes ours={len(mine)} exact={len(reference)}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
