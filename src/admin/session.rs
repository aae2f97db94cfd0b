//! Signing in to the console: the page, login (rate-limited, one lockout for every credential), logout, the session check.

use super::{json_body, no_store};
use crate::access::auth;
use crate::access::guard::{self, Admin};
use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::base::ids::random_token;
use crate::http::{Request, Response};
use crate::platform::rate::Limit;
use crate::platform::upstream::Http;
use crate::platform::Pool;
use serde_json::{json, Value};

/// A failed login waits this long before answering, to slow guessing down.
const FAILED_LOGIN_DELAY_MS: u64 = 1000;

/// `GET /admin`: the console page, or a page saying how to turn it on.
pub fn page<P: Platform>(app: &App<P>, req: &Request) -> Response {
    if !app.config.admin_configured() {
        let msg = crate::pages::html_escape(&guard::not_configured().message);
        return no_store(crate::pages::page(
            503,
            format!("<!doctype html><meta charset=utf-8><title>imgbed admin</title><h1>Admin console is off</h1><p>{msg}</p>"),
            None,
        ));
    }
    no_store(crate::pages::localized(req, 200, "console", app.config.public_url.as_deref()))
}

/// `POST /api/admin/login` with `{"user", "password"}` (or a form): sets the session cookie.
/// The password is `ADMIN_PASSWORD`, or the admin token when no password is set.
pub async fn login<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    let c = &app.config;
    if !c.admin_configured() {
        return Err(guard::not_configured());
    }
    if req.header("origin").is_some_and(|o| o.trim() != req.origin()) {
        return Err(ApiError::forbidden("log in from this site's own /admin page"));
    }
    crate::access::limits::check(app, req, Limit::Logins).await?;
    let fields: Vec<(String, String)> = if req.content_type().starts_with("application/x-www-form-urlencoded") {
        url::form_urlencoded::parse(&req.body).into_owned().collect()
    } else {
        json_body(req)?.into_iter().filter_map(|(k, v)| Some((k, v.as_str()?.to_string()))).collect()
    };
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("");
    let (user, password) = (field("user"), field("password"));
    let ok = match c.admin_password.as_deref() {
        Some(p) => crate::base::ids::same_secret(p, password) & crate::base::ids::same_secret(&c.admin_user, user),
        None => c.admin_token.as_deref().is_some_and(|t| crate::base::ids::same_secret(t, password)),
    };
    guard::lockout(app, req, ok).await?;
    if !ok {
        app.http.sleep(FAILED_LOGIN_DELAY_MS).await;
        return Err(ApiError::unauthorized("wrong user name or password"));
    }
    let nonce = random_token();
    let max_age_s = c.admin_session_hours * 3600;
    let until = app.now_ms + max_age_s * 1000;
    app.pool.session_start(&nonce, until, app.now_ms).await?;
    let cookie = auth::session_cookie(req, Some(&auth::session_value(c, &nonce, until)), max_age_s);
    Ok(no_store(Response::json(200, &session_json(app, &nonce, until))).with_header("set-cookie", cookie))
}

fn session_json<P: Platform>(app: &App<P>, nonce: &str, until: u64) -> Value {
    let c = &app.config;
    json!({
        "user": c.admin_user,
        "csrf": auth::csrf_token(c, nonce),
        "expires": until,
        "review_mode": c.review_mode.as_str(),
        "channels": c.channels(),
        "delete_links": c.secret_key.is_some(),
    })
}

/// `POST /api/admin/logout`: ends the session here and in the store. No CSRF token is needed:
/// the worst a forged logout can do is end a session, and a logout that only cleared the
/// cookie would leave a copied cookie working.
pub async fn logout<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    if let Some(nonce) = auth::session_nonce(&app.config, req, app.now_ms) {
        app.pool.session_end(&nonce).await?;
    }
    Ok(no_store(Response::json(200, &json!({"logged_out": true}))).with_header("set-cookie", auth::session_cookie(req, None, 0)))
}

/// `GET /api/admin/session`: who is logged in, and the CSRF token the page sends back;
/// `{"logged_in": false}` (not an error: the page asks before it knows) when nobody is.
pub async fn session<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    let mut v = match guard::admin(app, req).await {
        Ok(Admin::Session(nonce)) => {
            let until = auth::cookie(req, auth::SESSION_COOKIE).and_then(|v| v.split('.').next()?.parse().ok()).unwrap_or(0);
            session_json(app, &nonce, until)
        }
        Ok(Admin::Credentials) => json!({"user": app.config.admin_user, "csrf": null}),
        // A lockout is said as it is: a guess must not learn anything from this answer.
        Err(e) if e.status == 503 || e.status == 429 => return Err(e),
        Err(_) => return Ok(no_store(Response::json(200, &json!({"logged_in": false})))),
    };
    v["logged_in"] = json!(true);
    Ok(no_store(Response::json(200, &v)))
}
