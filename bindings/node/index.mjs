// ESM entry: the same objects as the CommonJS one (no dual-package hazard).
import m from './index.js'

export const { Ember, Redis, Listener, Pipeline, Subscriber, ReplyError } = m
export default m.Ember
