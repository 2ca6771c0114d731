"""The owner: one process opens the data and serves it to its siblings.

    python examples/attach/owner.py /tmp/chat.sock          # serves until Ctrl-C

Then, from other processes (see sibling.py, sibling.js):

    redis-cli -s /tmp/chat.sock LRANGE room:general:history 0 -1
    python examples/attach/sibling.py /tmp/chat.sock
    node examples/attach/sibling.js /tmp/chat.sock
"""

import sys

import emberkv

path = sys.argv[1] if len(sys.argv) > 1 else "/tmp/emberkv-chat.sock"
r = emberkv.Redis(decode_responses=True)              # or emberkv.Redis("data", appendonly="yes")
with r.listen(f"unix://{path}", unixsocketperm="700") as listener:
    print(f"serving on {listener.address}", flush=True)
    p = r.pubsub(ignore_subscribe_messages=True)
    p.subscribe("room:general")                        # messages the siblings publish, pushed here
    try:
        while True:
            m = p.get_message(timeout=1.0)
            if m is not None:
                r.rpush("room:general:history", m["data"])   # the owner keeps the history
                print("kept:", m["data"], flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        p.close()
print("stopped; history:", r.lrange("room:general:history", 0, -1))
