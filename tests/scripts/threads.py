"""Python threads inside hx: the threading primitives, a queue, a thread pool,
a timer, SIGALRM with a handler and faulthandler's watchdog thread. Every line
printed is deterministic whatever the scheduling. Usage: threads.py WORKDIR
(a writable directory for faulthandler's dump)."""
import concurrent.futures
import faulthandler
import hashlib
import queue
import signal
import sys
import tempfile
import threading
import time

# Threads and a Lock: a shared counter incremented under the lock.
counter = 0
lock = threading.Lock()


def add(n):
    global counter
    for _ in range(n):
        with lock:
            counter += 1


workers = [threading.Thread(target=add, args=(20000,), name=f"adder-{i}") for i in range(4)]
for t in workers:
    t.start()
for t in workers:
    t.join()
print("lock counter:", counter, "alive after join:", any(t.is_alive() for t in workers))

# Condition: a consumer waits for items a producer announces.
cond = threading.Condition()
items = []


def consume(out):
    with cond:
        while len(items) < 5:
            cond.wait()
        out.append(sum(items))


got = []
consumer = threading.Thread(target=consume, args=(got,))
consumer.start()
for i in range(5):
    with cond:
        items.append(i * 10)
        cond.notify()
    time.sleep(0.01)
consumer.join()
print("condition:", got)

# Event: threads block until it is set.
event = threading.Event()
woke = []
waiters = [threading.Thread(target=lambda i=i: (event.wait(), woke.append(i))) for i in range(3)]
for t in waiters:
    t.start()
time.sleep(0.05)
print("event waiters woke before set:", len(woke))
event.set()
for t in waiters:
    t.join()
print("event waiters woke after set:", sorted(woke))

# Semaphore: never more than 2 holders at once (the first two wait for each
# other, so 2 is reached however slowly threads start).
sem = threading.BoundedSemaphore(2)
holding = 0
most = 0
hold_lock = threading.Lock()
two_held = threading.Event()


def hold():
    global holding, most
    with sem:
        with hold_lock:
            holding += 1
            most = max(most, holding)
            if holding == 2:
                two_held.set()
        two_held.wait(10)
        time.sleep(0.01)
        with hold_lock:
            holding -= 1


holders = [threading.Thread(target=hold) for _ in range(6)]
for t in holders:
    t.start()
for t in holders:
    t.join()
print("semaphore most holders:", most)

# Barrier: every party passes only once all have arrived.
barrier = threading.Barrier(3)
phases = []
phase_lock = threading.Lock()


def phase(i):
    for p in range(3):
        with phase_lock:
            phases.append(p)
        barrier.wait()


parties = [threading.Thread(target=phase, args=(i,)) for i in range(3)]
for t in parties:
    t.start()
for t in parties:
    t.join()
print("barrier phases in order:", phases == sorted(phases), len(phases))

# queue.Queue: two producers, three consumers, a checksum of what went through.
q = queue.Queue(maxsize=16)
results = queue.Queue()


def produce(base):
    for i in range(2000):
        q.put(base + i)


def drain():
    h = 0
    n = 0
    while True:
        v = q.get()
        if v is None:
            q.task_done()
            break
        h = (h + v * v) % 1000000007
        n += 1
        q.task_done()
    results.put((n, h))


producers = [threading.Thread(target=produce, args=(b,)) for b in (0, 100000)]
consumers = [threading.Thread(target=drain) for _ in range(3)]
for t in producers + consumers:
    t.start()
for t in producers:
    t.join()
for _ in consumers:
    q.put(None)
q.join()
for t in consumers:
    t.join()
parts = [results.get() for _ in consumers]
print("queue items:", sum(n for n, _ in parts), "checksum:", sum(h for _, h in parts) % 1000000007)

# ThreadPoolExecutor.map keeps the order of its inputs.
with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
    digests = list(pool.map(lambda i: hashlib.sha256(str(i).encode() * 1000).hexdigest()[:8], range(8)))
    squares = sum(pool.map(lambda i: i * i, range(1000)))
print("pool digests:", " ".join(digests))
print("pool squares:", squares)

# threading.Timer: fires once after its delay; a cancelled one never does.
fired = threading.Event()
timer = threading.Timer(0.05, fired.set)
cancelled = threading.Timer(0.05, lambda: print("cancelled timer fired"))
timer.start()
cancelled.start()
cancelled.cancel()
print("timer fired:", fired.wait(5))
cancelled.join()

# signal.alarm: the handler runs on the main thread while it pauses; another
# thread, which blocks SIGALRM (so only the main thread can take it and end
# its pause), keeps waiting meanwhile.
alarms = []
signal.signal(signal.SIGALRM, lambda signum, frame: alarms.append((signum, threading.current_thread().name)))
spinner_stop = threading.Event()


def spin():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    spinner_stop.wait(10)


spinner = threading.Thread(target=spin)
spinner.start()
signal.alarm(1)
deadline = time.monotonic() + 10
while not alarms and time.monotonic() < deadline:
    signal.pause()
spinner_stop.set()
spinner.join()
print("alarm handler:", alarms == [(signal.SIGALRM, "MainThread")])

# A setitimer interval in a sleep loop: the handler runs between sleeps.
ticks = []
signal.signal(signal.SIGALRM, lambda signum, frame: ticks.append(1))
signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
deadline = time.monotonic() + 10
while len(ticks) < 3 and time.monotonic() < deadline:
    time.sleep(0.01)
signal.setitimer(signal.ITIMER_REAL, 0)
print("interval timer ticks >= 3:", len(ticks) >= 3)

# faulthandler's watchdog thread dumps every thread's traceback while the
# main thread sleeps and another waits.
sleeper_stop = threading.Event()
sleeper = threading.Thread(target=lambda: sleeper_stop.wait(10), name="sleeper")
sleeper.start()
with tempfile.TemporaryFile(mode="w+", dir=sys.argv[1]) as dump:
    faulthandler.dump_traceback_later(0.2, exit=False, file=dump)
    time.sleep(1)
    faulthandler.cancel_dump_traceback_later()
    dump.seek(0)
    text = dump.read()
sleeper_stop.set()
sleeper.join()
ok = "Thread 0x" in text and "most recent call first" in text and 'File "' in text and text.count("Thread 0x") == 2
print("faulthandler:", "ok" if ok else "missing: " + repr(text))

print("threads left:", threading.active_count())
