"""redis-py against emberkv-server: what a Python worker process does when
it attaches to an emberkv owned by another process.

Run with a Python that has `redis` installed (redis-py 4.x or later):

    python3 -m venv .venv && .venv/bin/pip install redis
    .venv/bin/python bindings/resp/tests/redis_py_client.py [path/to/emberkv-server]

Without an argument it uses $EMBERKV_SERVER or target/debug/emberkv-server.
It starts the server itself (TCP on a free loopback port and a Unix socket,
in a temporary directory), runs every check, stops it, and prints
"N passed, N failed".
"""

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(binary, tmp, extra=()):
    port = free_port()
    sock = os.path.join(tmp, "ekv-%d.sock" % port)
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--unixsocket", sock, *extra],
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port, sock
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise RuntimeError("emberkv-server did not start")


CHECKS = []


def check(f):
    CHECKS.append(f)
    return f


def supports(r, command):
    try:
        r.execute_command(command)
    except redis.ResponseError as e:
        return "unknown command" not in str(e)
    return True


@check
def strings_and_keys(env):
    r = redis.Redis(port=env["port"])
    assert r.ping() is True
    assert r.set("greeting", "hello") is True
    assert r.get("greeting") == b"hello"
    assert r.incr("n") == 1 and r.incrby("n", 41) == 42
    assert r.set("once", "1", nx=True) is True and r.set("once", "2", nx=True) is None
    assert r.mset({"a": "1", "b": "2"}) is True
    assert r.mget("a", "b", "missing") == [b"1", b"2", None]
    assert r.expire("a", 100) is True and 0 < r.ttl("a") <= 100
    assert r.delete("a", "b") == 2
    assert r.exists("greeting") == 1
    big = b"x" * (4 << 20)
    r.set("big", big)
    assert r.get("big") == big
    try:
        r.incr("greeting")
        raise AssertionError("no error")
    except redis.ResponseError as e:
        assert "not an integer" in str(e)


@check
def decode_responses_and_select(env):
    r = redis.Redis(port=env["port"], db=5, decode_responses=True)
    r.set("in5", "é")
    assert r.get("in5") == "é"
    assert redis.Redis(port=env["port"], db=0).get("in5") is None
    assert r.dbsize() == 1


@check
def pipelines(env):
    r = redis.Redis(port=env["port"])
    p = r.pipeline(transaction=False)
    for i in range(2000):
        p.set("p:%d" % i, i)
    for i in range(2000):
        p.incr("p:%d" % i)
    out = p.execute()
    assert out[:2000] == [True] * 2000
    assert out[2000:] == list(range(1, 2001))
    with r.pipeline() as t:  # MULTI/EXEC
        t.set("t", "1").incr("t").get("t")
        assert t.execute() == [True, 2, b"2"]


@check
def watch_conflict(env):
    r = redis.Redis(port=env["port"])
    other = redis.Redis(port=env["port"])
    r.set("w", "0")
    with r.pipeline() as p:
        p.watch("w")
        other.set("w", "changed")
        p.multi()
        p.set("w", "mine")
        try:
            p.execute()
            raise AssertionError("EXEC should have failed")
        except redis.WatchError:
            pass
    assert r.get("w") == b"changed"

    def incr(pipe):
        v = int(pipe.get("w2") or 0)
        pipe.multi()
        pipe.set("w2", v + 1)

    for _ in range(20):
        r.transaction(incr, "w2")
    assert r.get("w2") == b"20"


@check
def pubsub(env):
    r = redis.Redis(port=env["port"])
    ps = r.pubsub()
    ps.subscribe("news")
    ps.psubscribe("n*")
    kinds = [ps.get_message(timeout=2)["type"] for _ in range(2)]
    assert kinds == ["subscribe", "psubscribe"], kinds
    assert r.publish("news", "hello") == 2
    got = [ps.get_message(timeout=2) for _ in range(2)]
    assert {m["type"] for m in got} == {"message", "pmessage"}, got
    assert all(m["data"] == b"hello" for m in got)
    # run_in_thread with a handler
    seen = []
    ps2 = r.pubsub()
    ps2.subscribe(**{"jobs": lambda m: seen.append(m["data"])})
    t = ps2.run_in_thread(sleep_time=0.01)
    for i in range(50):
        r.publish("jobs", str(i))
    deadline = time.time() + 5
    while len(seen) < 50 and time.time() < deadline:
        time.sleep(0.01)
    t.stop()
    assert seen == [str(i).encode() for i in range(50)], seen[:5]
    ps.close()
    ps2.close()


@check
def resp3(env):
    try:
        r = redis.Redis(port=env["port"], protocol=3)
    except TypeError:
        return  # redis-py before 5 has no RESP3
    assert r.ping() is True
    r.set("r3", "v")
    assert r.get("r3") == b"v"
    hello = r.execute_command("HELLO", "3")
    assert hello.get(b"proto", hello.get("proto")) == 3, hello
    got = []
    ps = r.pubsub()
    ps.subscribe("r3c")
    assert ps.get_message(timeout=2)["type"] == "subscribe"
    r.publish("r3c", "x")
    m = ps.get_message(timeout=2)
    got.append(m)
    assert m["type"] == "message" and m["data"] == b"x", got
    ps.close()


@check
def unix_socket(env):
    r = redis.Redis(unix_socket_path=env["sock"])
    r.set("via-unix", "1")
    assert redis.Redis(port=env["port"]).get("via-unix") == b"1"
    info = r.client_info()
    assert str(info["addr"]).startswith(env["sock"]), info


@check
def client_commands(env):
    r = redis.Redis(port=env["port"])
    r.client_setname("worker-1")
    assert r.client_getname() in ("worker-1", b"worker-1")
    names = [c["name"] for c in r.client_list()]
    assert "worker-1" in names, names
    victim = redis.Redis(port=env["port"])
    victim.ping()
    vid = victim.client_id()
    assert r.client_kill_filter(_id=vid) == 1
    try:
        victim.execute_command("PING")  # redis-py reconnects once
    except redis.ConnectionError:
        pass
    info = r.info("stats")
    assert info["total_net_input_bytes"] > 0
    assert r.info("clients")["connected_clients"] >= 1


@check
def blocking_pop(env):
    r = redis.Redis(port=env["port"])
    if not supports(r, "BLPOP"):
        print("  (BLPOP not in this engine yet: skipped)")
        return
    out = []
    t = threading.Thread(target=lambda: out.append(redis.Redis(port=env["port"]).blpop("queue", 5)))
    t.start()
    time.sleep(0.2)
    r.rpush("queue", "job-1")
    t.join(5)
    assert out == [(b"queue", b"job-1")], out
    assert r.blpop("queue", 0.1) is None


@check
def authentication(env):
    proc, port, _ = start_server(env["binary"], env["tmp"], ["--requirepass", "s3cret"])
    try:
        try:
            redis.Redis(port=port).ping()
            raise AssertionError("expected an authentication error")
        except redis.AuthenticationError:
            pass
        except redis.ResponseError as e:
            assert "NOAUTH" in str(e)
        try:
            redis.Redis(port=port, password="wrong").ping()
            raise AssertionError("expected an authentication error")
        except (redis.AuthenticationError, redis.ResponseError):
            pass
        r = redis.Redis(port=port, password="s3cret")
        assert r.ping() is True
        r2 = redis.Redis(port=port, username="default", password="s3cret")
        assert r2.set("k", "v") is True
    finally:
        proc.terminate()
        proc.wait(10)


def main():
    binary = (sys.argv[1] if len(sys.argv) > 1 else None) or os.environ.get("EMBERKV_SERVER") or os.path.join(
        ROOT, "target", "debug", "emberkv-server"
    )
    with tempfile.TemporaryDirectory() as tmp:
        proc, port, sock = start_server(binary, tmp)
        env = {"port": port, "sock": sock, "binary": binary, "tmp": tmp}
        passed = failed = 0
        try:
            for f in CHECKS:
                try:
                    f(env)
                    passed += 1
                    print("ok   %s" % f.__name__)
                except Exception:
                    failed += 1
                    print("FAIL %s" % f.__name__)
                    traceback.print_exc()
        finally:
            proc.terminate()
            code = proc.wait(10)
        print("redis-py %s" % redis.__version__)
        print("redis-py: %d passed, %d failed" % (passed, failed))
        if code != 0:
            print("emberkv-server exited with %s" % code)
            failed += 1
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
