//! Rate limits per client address, counted by Cloudflare's rate-limiting binding: cheap (no
//! storage operation, no subrequest) and shared by every isolate of a location.
//!
//! Each limit is one `[[ratelimits]]` binding in `wrangler.toml`, named after what it limits
//! (`RATE_LIMIT_UPLOADS` with `simple = { limit = 60, period = 60 }` is "60 uploads a minute
//! per address"). Removing a binding turns that limit off. The admin is never limited.

use crate::access::auth::Uploader;
use crate::app::{App, Platform};
use crate::base::error::{human_bytes, ApiError};
use crate::http::Request;
use crate::index::catalog::Usage;
use crate::platform::rate::{Limit, RateLimiter};
use crate::platform::Pool;

/// The client's address as Cloudflare saw it; never a header the client can choose, since
/// Cloudflare overwrites `CF-Connecting-IP` on every request it forwards. An IPv6 client owns
/// at least a /64 and can rotate through it freely, so IPv6 addresses count by their /64.
/// Without the header (only locally: `wrangler dev` sets none) every request shares one key.
pub fn client_key(req: &Request) -> String {
    let Some(ip) = req.header("cf-connecting-ip").map(str::trim) else {
        return "unknown".into();
    };
    match ip.parse::<std::net::Ipv6Addr>() {
        Ok(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        _ => ip.to_string(),
    }
}

/// Counts this request against `limit` unless it is the admin's; over the limit → 429 with
/// `Retry-After`. Bindings count in windows of at most a minute, so the wait is at most the
/// rest of this minute.
pub async fn check<P: Platform>(app: &App<P>, req: &Request, limit: Limit) -> Result<(), ApiError> {
    if app.limits.allow(limit, &client_key(req)).await || crate::access::guard::is_admin(app, req).await {
        return Ok(());
    }
    Err(over(app, limit))
}

/// 429 for a request over `limit`.
pub fn over<P: Platform>(app: &App<P>, limit: Limit) -> ApiError {
    let wait = 60 - (app.now_ms / 1000) % 60;
    ApiError::new(429, "rate_limited", format!("too many {} from your address: try again in {wait} s", limit.what())).with_retry_after(wait)
}

/// Uploads counted against a daily quota, to give back if they are not stored after all.
pub struct Charged {
    who: String,
    day: u64,
    usage: Usage,
}

/// Counts a batch of uploads against its uploader's daily quota (`QUOTA_DAILY_UPLOADS`,
/// `QUOTA_DAILY_BYTES`): per token, or per address for anonymous uploads; the admin has none.
/// The counters live in the index store (the Durable Object), never in KV.
pub async fn charge<P: Platform>(app: &App<P>, req: &Request, uploader: &Uploader, add: Usage) -> Result<Option<Charged>, ApiError> {
    let quota = Usage { uploads: app.config.quota_daily_uploads, bytes: app.config.quota_daily_bytes };
    let who = match uploader {
        _ if quota == Usage::default() => return Ok(None),
        Uploader::Admin => return Ok(None),
        Uploader::Token(fingerprint) => format!("token:{fingerprint}"),
        Uploader::Anonymous => format!("address:{}", client_key(req)),
    };
    let day = app.now_ms / DAY_MS;
    match app.pool.charge(&who, day, add, quota).await? {
        Ok(_) => Ok(Some(Charged { who, day, usage: add })),
        Err(had) => {
            let mut used = Vec::new();
            if quota.uploads > 0 {
                used.push(format!("{} of {} uploads", had.uploads, quota.uploads));
            }
            if quota.bytes > 0 {
                used.push(format!("{} of {}", human_bytes(had.bytes), human_bytes(quota.bytes)));
            }
            let wait = ((day + 1) * DAY_MS - app.now_ms).div_ceil(1000);
            Err(ApiError::new(429, "quota_exceeded", format!("this would pass today's upload quota ({} used): more from 00:00 UTC", used.join(", ")))
                .with_retry_after(wait))
        }
    }
}

/// Counts one of `what` against this address's daily share (`share` a day, set by `setting`;
/// 0: none): a budget that is everyone's must not be spent by one address.
pub async fn share<P: Platform>(app: &App<P>, req: &Request, what: &str, setting: &str, share: u64) -> Result<Option<Charged>, ApiError> {
    if share == 0 {
        return Ok(None);
    }
    let (who, day) = (format!("{what}:{}", client_key(req)), app.now_ms / DAY_MS);
    let usage = Usage { uploads: 1, bytes: 0 };
    match app.pool.charge(&who, day, usage, Usage { uploads: share, bytes: 0 }).await? {
        Ok(_) => Ok(Some(Charged { who, day, usage })),
        Err(_) => Err(ApiError::new(
            429,
            "daily_limit",
            format!("your address has started its {share} new {what} for today ({setting}); more from 00:00 UTC. Existing ones still work."),
        )
        .with_retry_after(((day + 1) * DAY_MS - app.now_ms).div_ceil(1000))),
    }
}

/// Gives a charge back; a failure only leaves the count a little high until the day ends.
pub async fn refund<P: Platform>(app: &App<P>, charged: Option<Charged>) {
    let Some(c) = charged else { return };
    if let Err(e) = app.pool.refund(&c.who, c.day, c.usage).await {
        crate::base::log::error(&format!("quota refund for {}: {}", c.who, e.0));
    }
}

const DAY_MS: u64 = 86_400_000;

#[cfg(test)]
mod tests {
    fn key(ip: Option<&str>) -> String {
        let mut r = crate::http::Request::new(crate::http::Method::Get, "http://h/").unwrap();
        if let Some(ip) = ip {
            r.headers.set("cf-connecting-ip", ip);
        }
        super::client_key(&r)
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        assert_eq!(key(Some("2001:db8:1:2:aaaa::1")), key(Some("2001:db8:1:2:ffff:1:2:3")));
        assert_ne!(key(Some("2001:db8:1:2::1")), key(Some("2001:db8:1:3::1")));
        assert_eq!(key(Some("203.0.113.9")), "203.0.113.9");
        assert_eq!(key(Some("::ffff:203.0.113.9")), "::ffff:203.0.113.9", "IPv4 in IPv6 is one address");
        assert_eq!(key(None), "unknown");
    }
}
