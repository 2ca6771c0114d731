// emberkv: Redis, embedded. `const { Ember } = require('emberkv')`.
'use strict'
const { Ember, Pipeline, ReplyError } = require('./lib/ember')

module.exports = { Ember, Redis: Ember, Pipeline, ReplyError, default: Ember }
