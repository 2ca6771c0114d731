// emberkv: Redis, embedded. `const { Ember } = require('emberkv')`.
// Synchronous API; `require('emberkv/promises')` for the Promise flavour.
'use strict'
const { Ember, Pipeline, ReplyError } = require('./lib/ember')
const { Subscriber } = require('./lib/subscriber')

module.exports = { Ember, Redis: Ember, Pipeline, Subscriber, ReplyError, default: Ember }
