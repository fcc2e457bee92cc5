"""Python benchmarks: pure-Python n-body and json dumps/loads. Prints "ns <total>"."""
import json
import sys
import time


def nbody(steps):
    bodies = [[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 39.47],
              [4.84, -1.16, -0.10, 0.606, 2.81, -0.025, 0.0377],
              [8.34, 4.12, -0.40, -1.01, 1.82, 0.0084, 0.0113],
              [12.89, -15.11, -0.22, 1.08, 0.868, -0.0108, 0.00172],
              [15.38, -25.92, 0.18, 0.979, 0.594, -0.0348, 0.00203]]
    for _ in range(steps):
        for i, bi in enumerate(bodies):
            for bj in bodies[i + 1:]:
                dx, dy, dz = bi[0] - bj[0], bi[1] - bj[1], bi[2] - bj[2]
                d2 = dx * dx + dy * dy + dz * dz
                mag = 0.01 / (d2 * d2 ** 0.5)
                bi[3] -= dx * bj[6] * mag; bi[4] -= dy * bj[6] * mag; bi[5] -= dz * bj[6] * mag
                bj[3] += dx * bi[6] * mag; bj[4] += dy * bi[6] * mag; bj[5] += dz * bi[6] * mag
        for b in bodies:
            b[0] += 0.01 * b[3]; b[1] += 0.01 * b[4]; b[2] += 0.01 * b[5]
    return bodies[0][0]


def json_roundtrip(n):
    doc = {"items": [{"id": i, "name": f"item-{i}", "tags": ["a", "b", str(i)], "price": i * 1.25} for i in range(n)]}
    total = 0
    for _ in range(10):
        total += len(json.loads(json.dumps(doc))["items"])
    return total


scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
t0 = time.perf_counter()
r = nbody(int(20000 * scale)) + json_roundtrip(int(5000 * scale))
t1 = time.perf_counter()
print(f"ns {(t1 - t0) * 1e9:.0f}")
print("check", r != 0)
