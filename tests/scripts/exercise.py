"""Exercises the standard library inside hx; prints only deterministic output."""
import collections
import datetime
import hashlib
import json
import math
import os
import re
import struct
import sys

data = {"name": "hx", "values": [1, 2.5, None, True], "nested": {"k": "v"}}
text = json.dumps(data, sort_keys=True)
print("json:", text, json.loads(text) == data)
print("re:", re.findall(r"(\w+)@(\w+)\.com", "a@b.com, c@d.com"), re.sub(r"\d+", "#", "a1b22c333"))
print("sha256:", hashlib.sha256(b"hx unikernel").hexdigest())
print("md5:", hashlib.md5(b"abc").hexdigest())
packed = struct.pack("<IhQd", 7, -2, 2**40, 1.5)
print("struct:", packed.hex(), struct.unpack("<IhQd", packed))
c = collections.Counter("mississippi")
print("counter:", sorted(c.items()), collections.deque([1, 2, 3], maxlen=2))
Point = collections.namedtuple("Point", "x y")
print("namedtuple:", Point(1, 2)._asdict())
print("math:", math.factorial(20), round(math.sqrt(2), 12), math.gcd(84, 36), math.isclose(math.pi, 3.14159, rel_tol=1e-5))
d = datetime.datetime(2024, 2, 28, 23, 30) + datetime.timedelta(hours=1)
print("datetime:", d.isoformat(), d.strftime("%A %j"), datetime.date(2024, 3, 1) - datetime.date(2023, 3, 1))
now = datetime.datetime.now()
print("now is recent:", now.year >= 2024)

work = sys.argv[1]
os.makedirs(os.path.join(work, "sub"), exist_ok=True)
for i in range(3):
    with open(os.path.join(work, "sub", f"f{i}.txt"), "w") as f:
        f.write("x" * (i + 1) * 10)
print("listdir:", sorted(os.listdir(os.path.join(work, "sub"))))
print("sizes:", [os.stat(os.path.join(work, "sub", n)).st_size for n in sorted(os.listdir(os.path.join(work, "sub")))])
with open(os.path.join(work, "data.bin"), "wb") as f:
    f.write(bytes(range(256)) * 4)
with open(os.path.join(work, "data.bin"), "rb") as f:
    blob = f.read()
print("roundtrip:", len(blob), hashlib.sha1(blob).hexdigest())
print("isdir:", os.path.isdir(work), os.path.exists(os.path.join(work, "nope")))
print("walk:", sorted((os.path.relpath(r, work), sorted(fs)) for r, _, fs in os.walk(work)))
sys.exit(3)
