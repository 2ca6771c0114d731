// emberkv: Redis, embedded. `const { Ember } = require('emberkv')`.
// Synchronous API; `require('emberkv/promises')` for the Promise flavour.
// Like ioredis, the export is the class itself, with the other names on it:
// `const Redis = require('emberkv')`, `const { Ember, ReplyError } = require('emberkv')`.
'use strict'
const { Ember, Listener, Pipeline, ReplyError } = require('./lib/ember')
const { Subscriber } = require('./lib/subscriber')

Object.assign(Ember, { Ember, Redis: Ember, Listener, Pipeline, Subscriber, ReplyError, default: Ember })
module.exports = Ember
