// A Node sibling: Ember.fromUrl gives the embedded API over the owner's socket
// (ioredis works too: new Redis({ path })).
'use strict'
const { Ember } = require('emberkv')

const path = process.argv[2] || '/tmp/emberkv-chat.sock'
const db = Ember.fromUrl(`unix://${path}`)
db.sadd('presence:general', 'grace')
const sub = db.subscriber()
sub.on('message', (channel, message) => {
  console.log(`${channel}: ${message}`)
  sub.close()
  db.close()
})
sub.subscribe('room:general')
db.publish('room:general', 'hello from node')   // the owner stores it, and we hear it too
