'use strict'

/**
 * An error reply from the engine. `message` is Redis's text, byte for byte
 * ("WRONGTYPE Operation against a key holding the wrong kind of value");
 * `code` is its first word ('WRONGTYPE', 'ERR', 'EXECABORT', …).
 * Same name as ioredis's (redis-errors) ReplyError.
 */
class ReplyError extends Error {
  constructor (message) {
    super(message)
    const sp = message.indexOf(' ')
    this.code = sp > 0 ? message.slice(0, sp) : message
  }

  get name () {
    return 'ReplyError'
  }
}

module.exports = { ReplyError }
