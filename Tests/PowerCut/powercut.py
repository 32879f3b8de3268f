#!/usr/bin/env python3
"""Power cuts (SPEC 11), judged at the receiver.

The spool (and, in appliance mode, the intake and the status file) lives on forgetfs, a FUSE
filesystem that forgets what was not synced when the power goes. A firmware service (cut_child,
built against the shipped library) emits while the agent or outbound-eventsd delivers to a real
HTTP receiver on 127.0.0.1. At a random moment every process on the spool is killed with SIGKILL
and the power is cut: forgetfs keeps what a disk would, the filesystem is unmounted (the kernel's
page cache goes with it) and mounted again. Then the service starts again and emits a few more.

Each cut is judged at the receiver:
  - every event acknowledged more than queue.sync_interval before the cut arrives;
  - no webhook-id names two different events (a receiver dropping duplicates by id would lose
    one silently), and an event delivered twice has the same id and the same body;
  - bodies are whole, and each event's first delivery comes in the order it was emitted;
  - the agent comes up, says once that the last stop was unclean, and delivers the new events;
  - the status file is whole (the old one or the new one).

Usage: powercut.py LIBDIR DAEMON [--cuts N]      prints one line per check, then "N passed, M failed"
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
INTERVAL_MS = 200
RESULTS = {"passed": 0, "failed": 0}


def now_ms():
    return int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1000)


def check(condition, what, detail=""):
    RESULTS["passed" if condition else "failed"] += 1
    print(("ok - " if condition else "not ok - ") + what + ("" if condition or not detail else ": " + detail), flush=True)
    return condition


def wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    raise TimeoutError(what)


class Disk:
    """forgetfs at MOUNT, its state across cuts in STORE."""

    def __init__(self, work, seed):
        self.mount = os.path.join(work, "disk")
        self.store = os.path.join(work, "disk.state")
        self.seed = seed
        os.makedirs(self.mount, exist_ok=True)
        self.process = None
        self.start()

    def start(self):
        self.seed += 1
        self.process = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "forgetfs.py"), self.mount, self.store,
                                         str(self.seed)], stderr=subprocess.DEVNULL)
        wait_for(lambda: os.path.ismount(self.mount), 10, "forgetfs mounted")

    def cut(self):
        """The power goes: what was not synced is gone, then the machine is up again."""
        with open(os.path.join(self.mount, ".cut"), "w") as control:
            control.write("cut")
        self.unmount()
        self.start()

    def unmount(self):
        subprocess.run(["umount", self.mount], stderr=subprocess.DEVNULL)
        if self.process.poll() is None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                subprocess.run(["umount", "-l", self.mount], stderr=subprocess.DEVNULL)
                self.process.kill()
                self.process.wait()

    def path(self, name):
        return os.path.join(self.mount, name)


class Receiver:
    def __init__(self, work, name):
        self.log = os.path.join(work, name + ".jsonl")
        self.control = os.path.join(work, name + ".control")
        self.set("200")
        out = os.path.join(work, name + ".port")
        self.process = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts/receiver.py"), "--log", self.log,
                                         "--control", self.control], stdout=open(out, "w"))
        wait_for(lambda: "PORT" in open(out).read(), 10, "receiver listening")
        self.url = "http://127.0.0.1:%s/hook" % open(out).read().split()[1]

    def set(self, mode):
        with open(self.control, "w") as file:
            file.write(mode)

    def deliveries(self):
        """(n, webhook-id, body) of every request answered 200, in arrival order."""
        found = []
        if not os.path.exists(self.log):
            return found
        for line in open(self.log, encoding="utf-8", errors="surrogateescape"):
            record = json.loads(line)
            if record.get("answer") != "200":
                continue
            fields = urllib.parse.parse_qs(record["body"])
            lsid = fields.get("lsid", [""])[0]
            n = int(lsid[2:]) if lsid.startswith("n-") else -1
            found.append((n, record["headers"].get("webhook-id"), record["body"]))
        return found

    def stop(self):
        self.process.terminate()
        self.process.wait()


class Child:
    """A cut_child run; `acks` maps each acknowledged event number to the moment."""

    def __init__(self, program, arguments, work, name):
        self.stderr_path = os.path.join(work, name + ".stderr")
        self.process = subprocess.Popen([program] + arguments, stdout=subprocess.PIPE,
                                        stderr=open(self.stderr_path, "w"))
        os.set_blocking(self.process.stdout.fileno(), False)
        self.buffer = b""
        self.lines = []

    def read(self):
        try:
            chunk = self.process.stdout.read()
        except (BlockingIOError, ValueError):
            chunk = None
        if chunk:
            self.buffer += chunk
            *complete, self.buffer = self.buffer.split(b"\n")
            self.lines += [line.decode() for line in complete]
        return self.lines

    @property
    def acks(self):
        return {int(line.split()[1]): int(line.split()[2]) for line in self.read() if line.startswith("ok ")}

    def kill(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.read()

    def finish(self, seconds):
        try:
            self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.read()
        return self.process.returncode

    @property
    def stderr(self):
        return open(self.stderr_path, errors="replace").read()


def judge(name, receiver, acks, cut_at, new_events, before_cut=None):
    """The promises of SPEC 11 at the receiver, for one cut."""
    deliveries = receiver.deliveries()
    arrived = {n for n, _, _ in deliveries}
    required = {n for n, at in acks.items() if at < cut_at - INTERVAL_MS}
    if before_cut is not None:
        required |= before_cut
    missing = sorted(required - arrived)
    check(not missing, "%s: every event acknowledged more than %d ms before the cut arrives (%d of them)"
          % (name, INTERVAL_MS, len(required)), "missing %s" % missing[:10])
    bodies = {}
    clashes = []
    for n, event_id, body in deliveries:
        if bodies.setdefault(event_id, body) != body:
            clashes.append(event_id)
    check(not clashes and None not in bodies, "%s: no webhook-id names two different events; a repeat has the same id and body"
          % name, "ids %s" % clashes[:5])
    whole = all(urllib.parse.parse_qs(body).get("event") == ["support_conference_begin"] and n >= 0
                for n, _, body in deliveries)
    check(whole, "%s: every body is whole" % name)
    # Each emitting process numbers its events from its own multiple of 100,000.
    firsts = {}
    seen = set()
    for n, _, _ in deliveries:
        if n not in seen:
            seen.add(n)
            firsts.setdefault(n // 100_000, []).append(n)
    disorder = [stream[i:i + 2] for stream in firsts.values() for i in range(len(stream) - 1) if stream[i] > stream[i + 1]]
    check(not disorder, "%s: each emitter's events arrive in the order it emitted them" % name, "first out of order at %s" % disorder[:1])
    check(set(new_events) <= arrived, "%s: after the cut the agent comes up and delivers new events" % name,
          "missing %s" % sorted(set(new_events) - arrived)[:10])


def status_whole(path, name):
    if not os.path.exists(path):
        return check(True, "%s: no status file yet (none had been made durable)" % name)
    try:
        json.loads(open(path).read())
        return check(True, "%s: the status file is whole" % name)
    except ValueError as error:
        return check(False, "%s: the status file is whole" % name, str(error))


class Harness:
    def __init__(self, libdir, daemon, cuts, work):
        self.work = work
        self.daemon_binary = daemon
        self.cuts = cuts
        self.random = random.Random(int(os.environ.get("OE_CUT_SEED", str(int(time.time())))))
        print("# seed", self.random.getstate()[1][0], flush=True)
        self.child = os.path.join(work, "cut_child")
        subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", os.path.join(ROOT, "include"),
                        os.path.join(HERE, "cut_child.c"), "-L", libdir, "-loutbound-events",
                        "-Wl,-rpath," + os.path.abspath(libdir), "-o", self.child], check=True)
        self.first = 0

    def numbers(self):
        self.first += 100_000
        return self.first

    def agent(self, disk, receiver, name, first, count, then, capacity="256KiB", rate=500):
        settings = ["queue.capacity=" + capacity, "queue.sync_interval=%dms" % INTERVAL_MS,
                    "status.path=" + disk.path("status.json")]
        return Child(self.child, ["agent", disk.path("spool"), receiver.url, str(first), str(count), str(rate), then]
                     + settings, self.work, name)

    def producer(self, disk, name, first, count, then, rate=500):
        return Child(self.child, ["producer", disk.path("queue"), str(first), str(count), str(rate), then], self.work, name)

    def start_daemon(self, disk, receiver, name):
        config = os.path.join(self.work, name + ".conf")
        with open(config, "w") as file:
            file.write("queue.spool = %s\nqueue.capacity = 256KiB\nqueue.sync_interval = %dms\nstatus.path = %s\n"
                       "log.destination = stderr\nshutdown_timeout = 1s\n[http hook]\nurl = %s\nretry_interval = 100ms\n"
                       % (disk.path("queue"), INTERVAL_MS, disk.path("status.json"), receiver.url))
        log = open(os.path.join(self.work, name + ".log"), "w")
        process = subprocess.Popen([self.daemon_binary, "--config", config], stderr=log, stdout=log)
        wait_for(lambda: os.path.exists(disk.path("queue.intake")) or process.poll() is not None, 20, "daemon started")
        time.sleep(0.3)
        if process.poll() is not None:
            raise RuntimeError("%s exited: %s" % (name, open(log.name).read()))
        return process

    def power_cut(self, disk, processes):
        cut_at = now_ms()
        for process in processes:
            if isinstance(process, Child):
                process.kill()
            elif process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
        disk.cut()
        return cut_at

    # The scenarios.

    def in_process(self, live):
        name = "in-process, receiver %s" % ("live" if live else "down")
        for cut in range(self.cuts):
            label = "%s, cut %d" % (name, cut + 1)
            with Scenario(self.work, label) as (disk, receiver):
                if not live:
                    receiver.set("500")
                child = self.agent(disk, receiver, "emitter", self.numbers(), -1, "wait")
                time.sleep(self.random.uniform(0.4, 2.0))
                cut_at = self.power_cut(disk, [child])
                acks = child.acks
                status_whole(disk.path("status.json"), label)
                receiver.set("200")
                first = self.numbers()
                after = self.agent(disk, receiver, "after", first, 20, "flush")
                code = after.finish(60)
                check(code == 0 and "flush 0" in after.lines, "%s: the agent starts again on the spool and flushes" % label,
                      "exit %s: %s" % (code, after.stderr[-500:]))
                check(after.stderr.count("the last stop was unclean") == 1, "%s: the start after the cut says once that the last stop was unclean" % label,
                      after.stderr[-800:])
                judge(label, receiver, acks, cut_at, range(first, first + 20))

    def appliance(self, running):
        name = "appliance mode, daemon %s" % ("delivering" if running else "stopped")
        for cut in range(self.cuts):
            label = "%s, cut %d" % (name, cut + 1)
            with Scenario(self.work, label) as (disk, receiver):
                daemon = self.start_daemon(disk, receiver, "daemon")
                if not running:
                    daemon.send_signal(signal.SIGTERM)
                    daemon.wait(timeout=10)
                producers = [self.producer(disk, "producer%d" % i, self.numbers(), -1, "wait") for i in range(2)]
                time.sleep(self.random.uniform(0.4, 2.0))
                cut_at = self.power_cut(disk, producers + ([daemon] if running else []))
                acks = {}
                for producer in producers:
                    acks.update(producer.acks)
                    check("oe_emit" not in producer.stderr, "%s: every emit was acknowledged" % label, producer.stderr[-300:])
                status_whole(disk.path("status.json"), label)
                daemon = self.start_daemon(disk, receiver, "daemon-after")
                first = self.numbers()
                after = self.producer(disk, "after", first, 20, "flush")
                code = after.finish(60)
                check(code == 0 and "flush 0" in after.lines, "%s: the daemon starts again and a producer's flush returns" % label,
                      "exit %s: %s %s" % (code, after.lines[-2:], after.stderr[-300:]))
                # Everything acknowledged before the cut can arrive by now (flush covers the new
                # events only); give the daemon its retry interval's worth of time.
                wanted = {n for n, at in acks.items() if at < cut_at - INTERVAL_MS}
                try:
                    wait_for(lambda: wanted <= {n for n, _, _ in receiver.deliveries()}, 20, "backlog delivered")
                except TimeoutError:
                    pass
                daemon.send_signal(signal.SIGTERM)
                daemon.wait(timeout=10)
                judge(label, receiver, acks, cut_at, range(first, first + 20))

    def creation(self):
        for cut in range(self.cuts):
            label = "spool creation, cut %d" % (cut + 1)
            with Scenario(self.work, label) as (disk, receiver):
                child = self.agent(disk, receiver, "creating", self.numbers(), -1, "wait")
                time.sleep(self.random.uniform(0.0, 0.6))
                cut_at = self.power_cut(disk, [child])
                first = self.numbers()
                after = self.agent(disk, receiver, "after", first, 20, "flush")
                code = after.finish(60)
                check(code == 0 and "flush 0" in after.lines, "%s: the agent comes up on what the cut left" % label,
                      "exit %s: %s" % (code, after.stderr[-500:]))
                aside = [entry for entry in os.listdir(disk.mount) if ".corrupt-" in entry or ".incompatible-" in entry]
                check(not aside, "%s: no half-made spool was found (nothing set aside)" % label, str(aside))
                judge(label, receiver, child.acks, cut_at, range(first, first + 20))

    def resizing(self):
        for cut in range(self.cuts):
            label = "spool resizing, cut %d" % (cut + 1)
            with Scenario(self.work, label) as (disk, receiver):
                receiver.set("500")
                first = self.numbers()
                filling = self.agent(disk, receiver, "filling", first, 300, "sync", rate=0)
                wait_for(lambda: any(line.startswith("sync ") for line in filling.read()), 60, "events synced")
                check("sync 0" in filling.lines, "%s: oe_agent_sync returns OE_OK once the events are on the disk" % label,
                      str(filling.lines[-2:]))
                kept = set(filling.acks)
                filling.kill()
                resizing = self.agent(disk, receiver, "resizing", self.numbers(), 0, "wait", capacity="512KiB")
                time.sleep(self.random.uniform(0.0, 0.4))
                cut_at = self.power_cut(disk, [resizing])
                receiver.set("200")
                after_first = self.numbers()
                after = self.agent(disk, receiver, "after", after_first, 20, "flush", capacity="512KiB")
                code = after.finish(60)
                check(code == 0 and "flush 0" in after.lines, "%s: the agent comes up with the old spool or the resized one" % label,
                      "exit %s: %s" % (code, after.stderr[-500:]))
                judge(label, receiver, {}, cut_at, range(after_first, after_first + 20), before_cut=kept)


class Scenario:
    """A fresh forgetfs and receiver for one cut; everything stopped and unmounted on exit."""

    def __init__(self, work, label):
        self.directory = tempfile.mkdtemp(prefix="cut-", dir=work)
        self.label = label

    def __enter__(self):
        self.disk = Disk(self.directory, random.randrange(1 << 30))
        self.receiver = Receiver(self.directory, "receiver")
        return self.disk, self.receiver

    def __exit__(self, *error):
        subprocess.run(["pkill", "-KILL", "-f", self.disk.mount], stderr=subprocess.DEVNULL)
        self.receiver.stop()
        self.disk.unmount()
        shutil.rmtree(self.directory, ignore_errors=True)
        if error[0] is not None:
            check(False, "%s: ran to the end" % self.label, "%s: %s" % (error[0].__name__, error[1]))
        return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("libdir")
    parser.add_argument("daemon")
    parser.add_argument("--cuts", type=int, default=int(os.environ.get("OE_CUTS", "3")))
    arguments = parser.parse_args()
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse"):
        sys.exit("powercut.py: needs root and /dev/fuse (FUSE), as in CI")
    work = tempfile.mkdtemp(prefix="oe-powercut-")
    try:
        harness = Harness(arguments.libdir, os.path.abspath(arguments.daemon), arguments.cuts, work)
        harness.in_process(live=True)
        harness.in_process(live=False)
        harness.appliance(running=True)
        harness.appliance(running=False)
        harness.creation()
        harness.resizing()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (RESULTS["passed"], RESULTS["failed"]))
    sys.exit(1 if RESULTS["failed"] else 0)


if __name__ == "__main__":
    main()
