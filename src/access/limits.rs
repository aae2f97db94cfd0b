//! Rate limits per client address, counted by Cloudflare's rate-limiting binding: cheap (no
//! storage operation, no subrequest) and shared by every isolate of a location.
//!
//! Each limit is one `[[ratelimits]]` binding in `wrangler.toml`, named after what it limits
//! (`RATE_LIMIT_UPLOADS` with `simple = { limit = 60, period = 60 }` is "60 uploads a minute
//! per address"). Removing a binding turns that limit off. The admin is never limited.

use crate::access::address::{client_key, over};
use crate::access::auth::Uploader;
use crate::app::{App, Platform};
use crate::base::error::{human_bytes, ApiError};
use crate::http::Request;
use crate::index::catalog::Usage;
use crate::platform::rate::{Limit, RateLimiter};
use crate::platform::Pool;

/// Counts this request against `limit` unless it is the admin's; over the limit → 429 with
/// `Retry-After`. Bindings count in windows of at most a minute, so the wait is at most the
/// rest of this minute.
pub async fn check<P: Platform>(app: &App<P>, req: &Request, limit: Limit) -> Result<(), ApiError> {
    if app.limits.allow(limit, &client_key(req)).await || crate::access::guard::is_admin(app, req).await {
        return Ok(());
    }
    Err(over(app, limit))
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
