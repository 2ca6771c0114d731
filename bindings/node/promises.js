// `require('emberkv/promises')`: every method returns a Promise (ioredis-compatible).
'use strict'
module.exports = require('./lib/promises')
