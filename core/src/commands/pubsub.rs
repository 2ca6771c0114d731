//! Pub/sub commands. PUBLISH and PUBSUB work from any client; SUBSCRIBE and
//! friends through `Client::execute` use the client's own subscription and
//! answer with one push reply per confirmation (an `Array` of `Push`es, which a
//! wire front end writes as separate frames); published messages then arrive
//! through `Client::subscription()`. In-process code usually wants
//! `Db::subscribe()` instead.

use super::flag::*;
use super::{CommandSpec, Ctx, err};
use crate::pubsub::{Class, Message, Subscription};
use crate::reply::Reply;

type R = Result<Reply, Reply>;

const fn ps(name: &'static str, arity: i32, flags: u32, handler: super::Handler) -> CommandSpec {
    CommandSpec::new(
        name,
        arity,
        flags | PUBSUB | NO_KEYS,
        (0, 0, 0),
        "pubsub",
        handler,
    )
}

pub(crate) static COMMANDS: &[CommandSpec] = &[
    ps("publish", 3, LOADING | STALE | FAST, publish),
    ps("spublish", 3, LOADING | STALE | FAST, spublish),
    ps(
        "subscribe",
        -2,
        NOSCRIPT | LOADING | STALE | PUBSUB_CTX,
        subscribe,
    ),
    ps(
        "psubscribe",
        -2,
        NOSCRIPT | LOADING | STALE | PUBSUB_CTX,
        psubscribe,
    ),
    ps(
        "ssubscribe",
        -2,
        NOSCRIPT | LOADING | STALE | PUBSUB_CTX,
        ssubscribe,
    ),
    ps(
        "unsubscribe",
        -1,
        NOSCRIPT | LOADING | STALE | PUBSUB_CTX,
        unsubscribe,
    ),
    ps(
        "punsubscribe",
        -1,
        NOSCRIPT | LOADING | STALE | PUBSUB_CTX,
        punsubscribe,
    ),
    ps(
        "sunsubscribe",
        -1,
        NOSCRIPT | LOADING | STALE | PUBSUB_CTX,
        sunsubscribe,
    ),
    CommandSpec::container(
        "pubsub",
        PUBSUB | LOADING | STALE,
        "pubsub",
        PUBSUB_SUBCOMMANDS,
    ),
];

static PUBSUB_SUBCOMMANDS: &[CommandSpec] = &[
    ps("pubsub|channels", -2, LOADING | STALE, pubsub_channels),
    ps("pubsub|numsub", -2, LOADING | STALE, pubsub_numsub),
    ps("pubsub|numpat", 2, LOADING | STALE, pubsub_numpat),
    ps(
        "pubsub|shardchannels",
        -2,
        LOADING | STALE,
        pubsub_shardchannels,
    ),
    ps(
        "pubsub|shardnumsub",
        -2,
        LOADING | STALE,
        pubsub_shardnumsub,
    ),
    ps("pubsub|help", 2, LOADING | STALE, pubsub_help),
];

/// `PUBLISH channel message`
fn publish(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(Reply::Int(ctx.eng.pubsub.publish(a[1], a[2])))
}

/// `SPUBLISH shardchannel message`
fn spublish(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(Reply::Int(ctx.eng.pubsub.spublish(a[1], a[2])))
}

fn sub_generic(ctx: &mut Ctx, a: &[&[u8]], class: Class, subscribe: bool) -> R {
    let eng = ctx.eng;
    let sub = ctx
        .cl
        .sub
        .get_or_insert_with(|| Subscription::new(eng.pubsub.clone(), eng.params.pubsub_limits()));
    if let Some(info) = &ctx.cl.info {
        info.sub.get_or_init(|| std::sync::Arc::downgrade(&sub.sub));
    }
    let mut out: Vec<Message> = Vec::new();
    if subscribe {
        eng.pubsub
            .subscribe_generic(&sub.sub, &a[1..], class, Some(&mut out));
    } else {
        eng.pubsub
            .unsubscribe_generic(&sub.sub, &a[1..], class, Some(&mut out));
    }
    let counts = sub.sub.counts();
    ctx.cl.sync_meta(|m| m.subs = counts);
    Ok(Reply::Array(out.iter().map(Message::to_reply).collect()))
}

/// `SUBSCRIBE channel [channel ...]`
fn subscribe(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    sub_generic(ctx, a, Class::Channel, true)
}
/// `PSUBSCRIBE pattern [pattern ...]`
fn psubscribe(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    sub_generic(ctx, a, Class::Pattern, true)
}
/// `SSUBSCRIBE shardchannel [shardchannel ...]`
fn ssubscribe(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    sub_generic(ctx, a, Class::Shard, true)
}
/// `UNSUBSCRIBE [channel [channel ...]]`
fn unsubscribe(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    sub_generic(ctx, a, Class::Channel, false)
}
/// `PUNSUBSCRIBE [pattern [pattern ...]]`
fn punsubscribe(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    sub_generic(ctx, a, Class::Pattern, false)
}
/// `SUNSUBSCRIBE [shardchannel [shardchannel ...]]`
fn sunsubscribe(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    sub_generic(ctx, a, Class::Shard, false)
}

fn channels_generic(ctx: &mut Ctx, a: &[&[u8]], shard: bool) -> R {
    if a.len() > 3 {
        return Err(err::arity(if shard {
            "pubsub|shardchannels"
        } else {
            "pubsub|channels"
        }));
    }
    let mut v = ctx.eng.pubsub.active_channels(a.get(2).copied(), shard);
    v.sort();
    Ok(Reply::Array(v.into_iter().map(Reply::bulk_vec).collect()))
}

/// `PUBSUB CHANNELS [pattern]`
fn pubsub_channels(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    channels_generic(ctx, a, false)
}

/// `PUBSUB SHARDCHANNELS [pattern]`
fn pubsub_shardchannels(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    channels_generic(ctx, a, true)
}

/// A flat array of channel, count pairs in RESP2 and RESP3 alike (Redis
/// replies with an array here, not a map).
fn numsub_generic(ctx: &mut Ctx, a: &[&[u8]], shard: bool) -> R {
    let mut out = Vec::with_capacity(2 * (a.len() - 2));
    for c in &a[2..] {
        out.push(Reply::bulk(c));
        out.push(Reply::Int(ctx.eng.pubsub.numsub(c, shard) as i64));
    }
    Ok(Reply::Array(out))
}

/// `PUBSUB NUMSUB [channel [channel ...]]`
fn pubsub_numsub(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    numsub_generic(ctx, a, false)
}

/// `PUBSUB SHARDNUMSUB [shardchannel [shardchannel ...]]`
fn pubsub_shardnumsub(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    numsub_generic(ctx, a, true)
}

/// `PUBSUB NUMPAT`
fn pubsub_numpat(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(Reply::Int(ctx.eng.pubsub.numpat() as i64))
}

/// `PUBSUB HELP`
fn pubsub_help(_ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(super::keys::help_reply(
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    ))
}
