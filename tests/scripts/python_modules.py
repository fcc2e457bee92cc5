"""Exercises the extension modules a user expects of CPython (issue 14's
list) with real work, printing results that any difference would change:
run by the musl CPython natively and under `hx-run --fast-libc`, the two
outputs must be identical. Writes only into the current directory."""
import bz2, ctypes, datetime, decimal, hashlib, json, lzma, math, os, select, socket, sqlite3
import struct, subprocess, sys, threading, zlib
import xml.etree.ElementTree as ET

import readline  # noqa: F401  (must import: the line editor module)

data = {"items": [{"id": i, "name": f"item{i}", "vals": [i * 0.5, i ** 2, str(i)]} for i in range(2000)]}
text = json.dumps(data, sort_keys=True)
assert json.loads(text) == data
print("json", len(text), hashlib.sha256(text.encode()).hexdigest()[:16])
print("struct", struct.pack("<iqd", -7, 1 << 40, math.pi).hex(), struct.unpack(">H", b"\x12\x34"))
print("math", math.factorial(25), round(math.gamma(4.5), 12), math.isqrt(10 ** 20 + 1))

db = sqlite3.connect(":memory:")
db.execute("create table t (id integer primary key, k text, v real)")
db.executemany("insert into t (k, v) values (?, ?)", ((f"k{i % 97}", i * 1.25) for i in range(20000)))
db.execute("create index tk on t(k)")
print("sqlite", db.execute("select count(*), sum(v), count(distinct k) from t").fetchone(),
      db.execute("select k, avg(v) from t group by k order by k limit 3").fetchall())
db.execute("create virtual table docs using fts5(body)")
db.executemany("insert into docs values (?)", [("the quick brown fox",), ("over the lazy dog",), ("quick quick",)])
print("fts5", db.execute("select rowid from docs where docs match 'quick' order by rank").fetchall())
path = "python_modules.db"
if os.path.exists(path):
    os.remove(path)
f = sqlite3.connect(path)
f.execute("create table x(a)")
f.executemany("insert into x values (?)", [(i,) for i in range(1000)])
f.commit()
print("sqlite file", f.execute("select sum(a) from x").fetchone())
f.close()
os.remove(path)

decimal.getcontext().prec = 60
print("decimal", decimal.Decimal(2).sqrt(), decimal.Decimal(1) / decimal.Decimal(7))
print("datetime", datetime.datetime(2024, 2, 29, 12, 30) + datetime.timedelta(days=366))

libc = ctypes.CDLL(None)
numbers = (ctypes.c_int * 10)(5, 3, 9, 1, 7, 2, 8, 6, 4, 0)
compare = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
libc.qsort(numbers, len(numbers), ctypes.sizeof(ctypes.c_int), compare(lambda a, b: a[0] - b[0]))
print("ctypes", libc.strlen(b"hello, hx"), list(numbers))

blob = text.encode() * 3
print("zlib", len(zlib.compress(blob, 9)), "lzma", len(lzma.compress(blob)), "bz2", len(bz2.compress(blob)))
print("hashes", hashlib.md5(blob).hexdigest()[:12], hashlib.sha1(blob).hexdigest()[:12],
      hashlib.sha3_256(blob).hexdigest()[:12], hashlib.blake2b(blob).hexdigest()[:12])
try:
    import ssl  # built unless the pinned OpenSSL source was unavailable (build-musl-python.sh)
    ctx = ssl.create_default_context()
    print("ssl", ssl.OPENSSL_VERSION.split()[0], ctx.verify_mode, ctx.check_hostname)
except ImportError:
    print("ssl: not built")
print("xml", ET.fromstring("<a><b x='1'/><b x='2'/></a>").findall("b")[1].get("x"))

a, b = socket.socketpair()
a.sendall(b"ping")
ready, _, _ = select.select([b], [], [], 5)
print("socketpair", b.recv(4), len(ready))
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind("python_modules.sock")
server.listen(1)
client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
client.connect("python_modules.sock")
peer, _ = server.accept()
client.sendall(b"over a listening socket")
print("unix stream", peer.recv(64))
for s in (client, peer, server):
    s.close()
os.remove("python_modules.sock")

results = []
threads = [threading.Thread(target=lambda n=n: results.append(sum(range(n * 100000)))) for n in range(1, 5)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("threads", sorted(results))

child = subprocess.run([sys.executable, "-c", "import sys; print(6 * 7, sys.implementation.name)"],
                       capture_output=True, text=True)
print("subprocess", child.stdout.strip(), child.returncode)
