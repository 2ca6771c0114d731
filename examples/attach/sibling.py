"""A sibling process: attaches to the owner's socket with the same API as
the embedded client (or use redis-py: redis.Redis(unix_socket_path=...))."""

import sys
import time

import emberkv

path = sys.argv[1] if len(sys.argv) > 1 else "/tmp/emberkv-chat.sock"
r = emberkv.Redis.from_url(f"unix://{path}", decode_responses=True)
r.sadd("presence:general", "ada")
r.publish("room:general", "hello from python")
time.sleep(0.2)                                     # the owner stores it
print(r.lrange("room:general:history", 0, -1), r.smembers("presence:general"))
with r.pipeline() as pipe:                          # transactions work over the socket too
    pipe.hincrby("unread:bob", "general", 1).hgetall("unread:bob")
    print(pipe.execute())
r.close()
