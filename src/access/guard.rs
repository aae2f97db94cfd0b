//! Who is asking: the async permission checks that need storage (console sessions, console-made
//! tokens), over the pure primitives in [`crate::access::auth`].

use crate::access::address::client_key;
use crate::access::auth::{self, Uploader};
use crate::access::tokens::{self, Scope};
use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::http::{Method, Request};
use crate::platform::rate::{Limit, RateLimiter};
use crate::platform::Pool;

/// How an admin request proved itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admin {
    /// The admin token or Basic credentials, from a script.
    Credentials,
    /// The console's session cookie (with the CSRF token on changes).
    Session(String),
}

pub fn not_configured() -> ApiError {
    ApiError::new(
        503,
        "admin_not_configured",
        "the admin console is off: set ADMIN_PASSWORD (npx wrangler secret put ADMIN_PASSWORD) or ADMIN_TOKEN to turn it on",
    )
}

/// Every credential check ends here, whichever door it came through (the login form, HTTP
/// Basic, a bearer token, an upload token): one failure counter per address in the index
/// store, five failures in a quarter hour lock the address out, and a locked address is
/// refused even with the right credential. Failures also count against the login rate limit.
pub async fn credential<P: Platform>(app: &App<P>, req: &Request, ok: bool) -> Result<(), ApiError> {
    if !ok && !app.limits.allow(Limit::Logins, &client_key(req)).await {
        return Err(crate::access::address::over(app, Limit::Logins));
    }
    lockout(app, req, ok).await
}

/// The failure counter and lockout alone (the login form counts every attempt against the
/// rate limit itself). Loopback is not counted: no client on Cloudflare has that address, and
/// under `wrangler dev`, where every local client has it, one shared counter would lock them
/// all out together.
pub async fn lockout<P: Platform>(app: &App<P>, req: &Request, ok: bool) -> Result<(), ApiError> {
    let address = req.header("cf-connecting-ip").and_then(|ip| ip.trim().parse::<std::net::IpAddr>().ok());
    if address.is_none_or(|ip| ip.is_loopback()) {
        return Ok(());
    }
    match app.pool.login_attempt(&client_key(req), app.now_ms, ok).await? {
        Ok(()) => Ok(()),
        Err(wait) => {
            Err(ApiError::new(429, "too_many_logins", format!("too many failed logins from this address: try again in {} minutes", wait.div_ceil(60)))
                .with_retry_after(wait))
        }
    }
}

/// Whether the header token is an upload token (configured, or made in the console): a client
/// showing its upload token where the admin is asked for is not guessing.
async fn is_upload_token<P: Platform>(app: &App<P>, req: &Request) -> Result<bool, ApiError> {
    let Some(t) = auth::header_token(req) else {
        return Ok(false);
    };
    if app.config.upload_tokens.iter().any(|u| crate::base::ids::same_secret(u, &t)) {
        return Ok(true);
    }
    Ok(t.starts_with(auth::MANAGED_TOKEN_PREFIX) && tokens::find(app, &t).await?.is_some())
}

/// Checks an admin request. Fails closed: with no password and no admin token set, 503.
pub async fn admin<P: Platform>(app: &App<P>, req: &Request) -> Result<Admin, ApiError> {
    let c = &app.config;
    if !c.admin_configured() {
        return Err(not_configured());
    }
    match auth::admin_credentials(c, req) {
        Some(true) => {
            // A password can be weak, so a locked-out address is refused even the right one.
            // The admin token is a long random secret: checking the lock for it would cost an
            // index call on every script request and protect nothing.
            if auth::header_token(req).is_none() {
                credential(app, req, true).await?;
            }
            return Ok(Admin::Credentials);
        }
        Some(false) => {
            if !is_upload_token(app, req).await? {
                credential(app, req, false).await?;
            }
            return Err(ApiError::forbidden("the admin credentials are not accepted"));
        }
        None => {}
    }
    if let Some(nonce) = auth::session_nonce(c, req, app.now_ms) {
        if app.pool.session_live(&nonce, app.now_ms).await? {
            if !matches!(req.method, Method::Get | Method::Head) && !auth::csrf_ok(c, req, &nonce) {
                return Err(ApiError::forbidden("this change did not come from the console page (CSRF check failed): reload the page"));
            }
            return Ok(Admin::Session(nonce));
        }
        return Err(ApiError::unauthorized("the console session has ended: log in again at /admin"));
    }
    if ["key", "token", "authCode"].iter().any(|k| req.query(k).is_some()) {
        return Err(ApiError::unauthorized("admin secrets are never accepted in a URL: send 'Authorization: Bearer <ADMIN_TOKEN>' or log in at /admin"));
    }
    Err(ApiError::unauthorized("this needs the admin: log in at /admin, or send 'Authorization: Bearer <ADMIN_TOKEN>'"))
}

/// Whether the request is the admin's (for views: pending images, previews, uncapped variants).
pub async fn is_admin<P: Platform>(app: &App<P>, req: &Request) -> bool {
    // Without any admin credential there is nothing to look up.
    let candidate = auth::header_token(req).is_some() || auth::basic(req).is_some() || auth::cookie(req, auth::SESSION_COOKIE).is_some();
    candidate && admin(app, req).await.is_ok()
}

/// Checks upload permission; `extra` is a token found in the body (e.g. a form field `key`).
pub async fn uploader<P: Platform>(app: &App<P>, req: &Request, extra: Option<&str>) -> Result<Uploader, ApiError> {
    let c = &app.config;
    let token = auth::presented_token(req).or_else(|| extra.map(str::to_string).filter(|t| !t.is_empty()));
    let Some(t) = token else {
        // The console's session (with its CSRF token): a logged-in admin uploads from the page
        // without pasting a token.
        if auth::cookie(req, auth::SESSION_COOKIE).is_some() && matches!(admin(app, req).await, Ok(Admin::Session(_))) {
            return Ok(Uploader::Admin);
        }
        return if c.allow_anonymous_upload { Ok(Uploader::Anonymous) } else { Err(auth::missing_token()) };
    };
    if let Some(u) = auth::configured_uploader(c, req, &t) {
        return Ok(u);
    }
    if let Some(record) = tokens::find(app, &t).await? {
        if record.allows(Scope::Upload, app.now_ms) {
            return Ok(auth::managed_uploader(&t));
        }
    }
    if c.allow_anonymous_upload {
        return Ok(Uploader::Anonymous);
    }
    credential(app, req, false).await?;
    Err(ApiError::forbidden("the upload token is not accepted"))
}

/// Who may act on images with `scope`: the admin (`Uploader::Admin`, every image) or a
/// console-made token with that scope (`Uploader::Token`, its own images).
pub async fn scoped<P: Platform>(app: &App<P>, req: &Request, scope: Scope) -> Result<Uploader, ApiError> {
    if let Some(t) = auth::header_token(req).filter(|t| t.starts_with(auth::MANAGED_TOKEN_PREFIX)) {
        return match tokens::find(app, &t).await? {
            Some(r) if r.allows(scope, app.now_ms) => Ok(auth::managed_uploader(&t)),
            Some(_) => Err(ApiError::forbidden(format!("this token may not {}", scope_verb(scope)))),
            None => Err(ApiError::forbidden("the token is not accepted (revoked or unknown)")),
        };
    }
    admin(app, req).await.map(|_| Uploader::Admin)
}

fn scope_verb(s: Scope) -> &'static str {
    match s {
        Scope::Upload => "upload",
        Scope::Delete => "delete images (it lacks the delete scope, or has expired)",
        Scope::List => "list images (it lacks the list scope, or has expired)",
    }
}
