// A TypeScript example; `tsc --noEmit` checks it against the shipped declarations.
import { Ember, ReplyError } from 'emberkv'
import { Ember as AsyncEmber } from 'emberkv/promises'

const db = new Ember({ hz: 10 })
const ok: 'OK' | string | null = db.set('greeting', 'hello', 'EX', 60)
const v: string | null = db.get('greeting')
const b: Buffer | null = db.getBuffer('greeting')
const n: number = db.incr('counter')
const h: Record<string, string> = db.hgetall('user:1')
const z: string[] = db.zrange('z', 0, -1, 'WITHSCORES')
const any: unknown = db.call('GET', 'greeting')
db.sadd('s', ['a', 'b', 1, Buffer.from([0xff])])

try {
  db.incr('greeting')
} catch (e) {
  if (e instanceof ReplyError) console.log(e.code, e.message)
}

async function main (): Promise<void> {
  const popped: [string, string] | null = await db.blpop('queue', 1)
  const results = db.multi().set('a', 1).get('a').exec()
  if (results) for (const [err, res] of results) console.log(err, res)

  const sub = db.subscriber()
  sub.on('message', (channel: string, message: string) => console.log(channel, message))
  sub.on('pmessageBuffer', (pattern: Buffer, channel: Buffer, message: Buffer) => console.log(pattern, channel, message))
  const count: number = sub.subscribe('room:1')
  sub.psubscribe('room:*')
  db.publish('room:1', 'hi')
  sub.close()

  const adb = new AsyncEmber()
  const s: string | null = await adb.get('k')
  const r = await adb.multi().incr('x').exec()
  adb.get('k', (err, value) => console.log(err, value))
  await adb.close()
  console.log(ok, v, b, n, h, z, any, popped, count, s, r)
}

main().finally(() => db.close())
