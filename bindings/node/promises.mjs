import m from './lib/promises.js'

export const { Ember, Redis, Listener, Pipeline, Subscriber, ReplyError } = m
export default m.Ember
