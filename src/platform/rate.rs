//! The rate-limiting port: one Cloudflare rate-limit binding per [`Limit`].

/// What is limited: only the requests that make something new cost a count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Limit {
    /// Upload requests, on every client API.
    Uploads,
    /// Transform variants made for the first time (cached ones are free).
    Variants,
    /// Placeholders generated for the first time.
    Placeholders,
    /// Console login attempts (besides the lockout after five failures).
    Logins,
}

impl Limit {
    /// The binding's name in `wrangler.toml`.
    pub fn binding(self) -> &'static str {
        match self {
            Limit::Uploads => "RATE_LIMIT_UPLOADS",
            Limit::Variants => "RATE_LIMIT_VARIANTS",
            Limit::Placeholders => "RATE_LIMIT_PLACEHOLDERS",
            Limit::Logins => "RATE_LIMIT_LOGINS",
        }
    }

    pub fn what(self) -> &'static str {
        match self {
            Limit::Uploads => "uploads",
            Limit::Variants => "new image sizes",
            Limit::Placeholders => "new placeholders",
            Limit::Logins => "login attempts",
        }
    }
}

/// Counts one request against a limit for a key; false when the key is over it. A limiter
/// that fails answers true: an outage of the counter must not take uploads down with it.
#[allow(async_fn_in_trait)]
pub trait RateLimiter {
    async fn allow(&self, limit: Limit, key: &str) -> bool;
}
