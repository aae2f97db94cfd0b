//! Who may upload and who may administer.
//!
//! Clients send tokens in many ways; all of them are accepted so that PicGo, PicList, ShareX,
//! curl scripts and the web page work with their own built-in settings.

use crate::base::error::ApiError;
use crate::base::ids::same_secret;
use crate::config::Config;
use crate::http::Request;

/// The token a request carries in a header: `Authorization: Bearer|Token <t>` (or bare),
/// `token`, `X-API-Key`. `Authorization: Basic` is a login, not a token (see [`basic`]).
pub fn header_token(req: &Request) -> Option<String> {
    let from_auth = req.header("authorization").and_then(|v| {
        let v = v.trim();
        match v.split_once(' ') {
            Some((scheme, _)) if scheme.eq_ignore_ascii_case("basic") => None,
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token") => Some(rest.trim()),
            _ => Some(v),
        }
        .map(str::to_string)
    });
    from_auth.or_else(|| req.header("token").map(str::to_string)).or_else(|| req.header("x-api-key").map(str::to_string)).filter(|t| !t.is_empty())
}

/// The token a request carries, in a header or (for upload clients that can only put it in the
/// URL) in `?key=`, `?authCode=` or `?token=`. Query tokens never grant admin rights: URLs end
/// up in logs, histories and Referer headers.
pub fn presented_token(req: &Request) -> Option<String> {
    header_token(req).or_else(|| query_token(req))
}

fn query_token(req: &Request) -> Option<String> {
    req.query("key").or_else(|| req.query("authCode")).or_else(|| req.query("token")).filter(|t| !t.is_empty())
}

/// `Authorization: Basic` user and password.
pub fn basic(req: &Request) -> Option<(String, String)> {
    use base64::Engine;
    let v = req.header("authorization")?.trim();
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let text = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Whether a script's credentials are the admin's: the admin token as a header token, or HTTP
/// Basic with the console user and password (or any user and the admin token).
pub fn admin_credentials(config: &Config, req: &Request) -> Option<bool> {
    if let Some(t) = header_token(req) {
        return Some(is_admin_token(config, &t));
    }
    let (user, password) = basic(req)?;
    let by_password = config.admin_password.as_deref().is_some_and(|p| same_secret(p, &password) & same_secret(&config.admin_user, &user));
    Some(by_password || is_admin_token(config, &password))
}

fn is_admin_token(config: &Config, token: &str) -> bool {
    config.admin_token.as_deref().is_some_and(|a| same_secret(a, token))
}

/// Who is uploading: decides who may see an image's delete link again (see
/// [`crate::library::save`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uploader {
    Admin,
    /// An upload token, known by a one-way fingerprint so records never hold the token.
    Token(String),
    Anonymous,
}

impl Uploader {
    /// What a record keeps of its uploader.
    pub fn owner(&self) -> Option<String> {
        match self {
            Uploader::Token(f) => Some(f.clone()),
            Uploader::Admin | Uploader::Anonymous => None,
        }
    }

    /// Whether this uploader owns an image whose record says `owner`.
    pub fn owns(&self, owner: Option<&str>) -> bool {
        match self {
            Uploader::Admin => true,
            Uploader::Token(f) => owner.is_some_and(|o| same_secret(o, f)),
            Uploader::Anonymous => false,
        }
    }
}

fn fingerprint(token: &str) -> String {
    crate::base::ids::sha256_hex(format!("imgbed-owner:{token}").as_bytes())[..32].to_string()
}

/// Console-made tokens start with this, so a request can be refused early without a lookup
/// when its token is neither a configured one nor shaped like one of those.
pub const MANAGED_TOKEN_PREFIX: &str = "ib_";

/// A token presented in a header or the query that is not accepted: refused before the body is
/// read. `None` when there is none (it may still come in the body), it is good, or it may be a
/// console-made token (checked later, against KV).
pub fn refuse_early(config: &Config, req: &Request) -> Option<ApiError> {
    let Some(t) = presented_token(req) else {
        // A form may carry the token in a field; a raw body cannot, so it is not read at all.
        return (has_body(req) && !is_form(req) && !config.allow_anonymous_upload).then(missing_token);
    };
    let admin = header_token(req).is_some_and(|h| is_admin_token(config, &h));
    let good = admin || config.upload_tokens.iter().any(|u| same_secret(u, &t)) || t.starts_with(MANAGED_TOKEN_PREFIX);
    (!good && !config.allow_anonymous_upload).then(|| ApiError::forbidden("the upload token is not accepted"))
}

/// Whether the body is a form (multipart, URL-encoded or JSON) that may hold fields.
pub fn is_form(req: &Request) -> bool {
    let t = req.content_type().trim().to_ascii_lowercase();
    ["multipart/", "application/x-www-form-urlencoded", "application/json"].iter().any(|f| t.starts_with(f))
}

/// Whether a request says it has a body (a length above zero, or chunks).
pub fn has_body(req: &Request) -> bool {
    req.header("transfer-encoding").is_some() || req.header("content-length").is_some_and(|v| v.trim() != "0")
}

/// Who a configured token belongs to: the admin (from a header only) or an upload token.
/// `None` for a token that is not configured (it may be a console-made one).
pub fn configured_uploader(config: &Config, req: &Request, token: &str) -> Option<Uploader> {
    let in_header = header_token(req).as_deref() == Some(token);
    if in_header && is_admin_token(config, token) {
        return Some(Uploader::Admin);
    }
    config.upload_tokens.iter().any(|u| same_secret(u, token)).then(|| Uploader::Token(fingerprint(token)))
}

/// The uploader of a console-made token.
pub fn managed_uploader(token: &str) -> Uploader {
    Uploader::Token(fingerprint(token))
}

pub fn missing_token() -> ApiError {
    ApiError::unauthorized("uploading needs a token: send it as 'Authorization: Bearer <token>' (or X-API-Key, or ?key=)")
}

/// An admin console session, carried in an HMAC-signed cookie `<until>.<nonce>.<mac>`. The
/// key is derived from the admin credentials and `SECRET_KEY`, so changing any of them ends
/// every session; the nonce is also kept in the index store, so logging out ends it for good.
pub const SESSION_COOKIE: &str = "imgbed_session";

fn session_key(config: &Config) -> String {
    derived_key(config, "imgbed-session")
}

/// A key for `purpose`, derived from the admin credentials and `SECRET_KEY`: changing any of
/// them makes every cookie and link signed with it invalid.
pub fn derived_key(config: &Config, purpose: &str) -> String {
    let material = format!(
        "{purpose}\n{}\n{}\n{}\n{}",
        config.admin_user,
        config.admin_password.as_deref().unwrap_or(""),
        config.secret_key.as_deref().unwrap_or(""),
        config.admin_token.as_deref().unwrap_or("")
    );
    crate::base::ids::sha256_hex(material.as_bytes())
}

/// The cookie value for a new session.
pub fn session_value(config: &Config, nonce: &str, until_ms: u64) -> String {
    let body = format!("{until_ms}.{nonce}");
    format!("{body}.{}", crate::base::ids::hmac_base64(&session_key(config), &body, 32))
}

/// The nonce of a well-signed, unexpired session cookie.
pub fn session_nonce(config: &Config, req: &Request, now_ms: u64) -> Option<String> {
    let value = cookie(req, SESSION_COOKIE)?;
    let (body, mac) = value.rsplit_once('.')?;
    let (until, nonce) = body.split_once('.')?;
    let expected = crate::base::ids::hmac_base64(&session_key(config), body, 32);
    (same_secret(&expected, mac) && until.parse::<u64>().ok()? > now_ms && !nonce.is_empty()).then(|| nonce.to_string())
}

/// The CSRF token of a session: the page sends it back in `X-CSRF-Token` with every change.
/// A cross-site page can neither read it nor (under `SameSite=Strict`) send the cookie.
pub fn csrf_token(config: &Config, nonce: &str) -> String {
    crate::base::ids::hmac_base64(&session_key(config), &format!("csrf:{nonce}"), 24)
}

/// Whether a state-changing request made with a session cookie comes from our own page.
pub fn csrf_ok(config: &Config, req: &Request, nonce: &str) -> bool {
    let token_ok = req.header("x-csrf-token").is_some_and(|t| same_secret(t.trim(), &csrf_token(config, nonce)));
    let same_site = req.header("sec-fetch-site").is_none_or(|s| s.trim() != "cross-site");
    let origin_ok = req.header("origin").is_none_or(|o| o.trim() == req.origin());
    token_ok && same_site && origin_ok
}

/// A cookie's value from the `Cookie` header.
pub fn cookie(req: &Request, name: &str) -> Option<String> {
    req.header("cookie")?.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// The `Set-Cookie` for a session (or, with `None`, one that ends it). `Secure` except on
/// plain-http localhost, where browsers would drop it.
pub fn session_cookie(req: &Request, value: Option<&str>, max_age_s: u64) -> String {
    let local = req.url.scheme() == "http" && matches!(req.url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    let secure = if local { "" } else { "; Secure" };
    match value {
        Some(v) => format!("{SESSION_COOKIE}={v}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    fn req(url: &str, headers: &[(&str, &str)]) -> Request {
        let mut r = Request::new(Method::Post, url).unwrap();
        r.headers = headers.iter().copied().collect();
        r
    }

    fn config() -> Config {
        Config { upload_tokens: vec!["up".into()], admin_token: Some("adm".into()), ..Config::default() }
    }

    fn uploader(c: &Config, r: &Request) -> Option<Uploader> {
        configured_uploader(c, r, &presented_token(r)?)
    }

    #[test]
    fn every_token_form_is_accepted() {
        let c = config();
        for r in [
            req("http://h/upload", &[("Authorization", "Bearer up")]),
            req("http://h/upload", &[("Authorization", "up")]),
            req("http://h/upload", &[("token", "up")]),
            req("http://h/upload", &[("X-API-Key", "up")]),
            req("http://h/upload?key=up", &[]),
            req("http://h/upload?authCode=up", &[]),
        ] {
            assert!(matches!(uploader(&c, &r), Some(Uploader::Token(_))), "{:?}", r.headers);
        }
        assert_eq!(uploader(&c, &req("http://h/upload", &[("Authorization", "Bearer adm")])), Some(Uploader::Admin));
    }

    #[test]
    fn admin_secrets_in_the_query_grant_nothing() {
        let c = config();
        assert_eq!(uploader(&c, &req("http://h/upload?key=adm", &[])), None);
        assert!(refuse_early(&c, &req("http://h/upload?token=adm", &[])).is_some());
        assert_eq!(admin_credentials(&c, &req("http://h/api/admin/images?key=adm", &[])), None);
        assert_eq!(admin_credentials(&c, &req("http://h/", &[("Authorization", "Bearer adm")])), Some(true));
        assert_eq!(admin_credentials(&c, &req("http://h/", &[("Authorization", "Bearer up")])), Some(false));
    }

    #[test]
    fn basic_auth_with_the_console_password_or_the_token() {
        use base64::Engine;
        let c = Config { admin_password: Some("pw".into()), ..config() };
        let basic = |s: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(s));
        assert_eq!(admin_credentials(&c, &req("http://h/", &[("Authorization", &basic("admin:pw"))])), Some(true));
        assert_eq!(admin_credentials(&c, &req("http://h/", &[("Authorization", &basic("x:adm"))])), Some(true));
        assert_eq!(admin_credentials(&c, &req("http://h/", &[("Authorization", &basic("root:pw"))])), Some(false));
        assert_eq!(admin_credentials(&c, &req("http://h/", &[("Authorization", &basic("admin:p"))])), Some(false));
    }

    #[test]
    fn console_tokens_are_left_to_the_lookup() {
        let c = config();
        assert!(refuse_early(&c, &req("http://h/upload", &[("Authorization", "Bearer ib_whatever")])).is_none());
        assert!(refuse_early(&c, &req("http://h/upload", &[("Authorization", "Bearer nope")])).is_some());
    }

    #[test]
    fn owners_are_fingerprints_not_tokens() {
        let c = Config { upload_tokens: vec!["up".into(), "other".into()], ..config() };
        let me = uploader(&c, &req("http://h/", &[("Authorization", "Bearer up")])).unwrap();
        let them = uploader(&c, &req("http://h/", &[("Authorization", "Bearer other")])).unwrap();
        let owner = me.owner().unwrap();
        assert_eq!(owner.len(), 32);
        assert!(me.owns(Some(&owner)) && !them.owns(Some(&owner)));
        assert!(!Uploader::Anonymous.owns(None) && Uploader::Admin.owns(None));
    }

    fn with_cookie(value: &str) -> Request {
        req("http://h/api/admin/images", &[("Cookie", &format!("theme=dark; {SESSION_COOKIE}={value}"))])
    }

    #[test]
    fn sessions_are_signed_and_expire() {
        let c = Config { admin_password: Some("pw".into()), ..config() };
        let good = session_value(&c, "n1", 2000);
        assert_eq!(session_nonce(&c, &with_cookie(&good), 1000).as_deref(), Some("n1"));
        assert_eq!(session_nonce(&c, &with_cookie(&good), 2000), None, "expired");
        let later = good.replacen("2000", "9000", 1);
        assert_eq!(session_nonce(&c, &with_cookie(&later), 1000), None, "tampered expiry");
        let forged = format!("2000.n1.{}", "A".repeat(43));
        assert_eq!(session_nonce(&c, &with_cookie(&forged), 1000), None, "forged mac");
        let other = Config { admin_password: Some("changed".into()), ..c.clone() };
        assert_eq!(session_nonce(&other, &with_cookie(&good), 1000), None, "a new password ends old sessions");
    }

    #[test]
    fn changes_need_the_csrf_token_from_our_origin() {
        let c = Config { admin_password: Some("pw".into()), ..config() };
        let t = csrf_token(&c, "n1");
        assert!(csrf_ok(&c, &req("http://h/x", &[("X-CSRF-Token", &t), ("Origin", "http://h")]), "n1"));
        assert!(!csrf_ok(&c, &req("http://h/x", &[]), "n1"));
        assert!(!csrf_ok(&c, &req("http://h/x", &[("X-CSRF-Token", &t), ("Origin", "https://evil.example")]), "n1"));
        assert!(!csrf_ok(&c, &req("http://h/x", &[("X-CSRF-Token", &t), ("Sec-Fetch-Site", "cross-site")]), "n1"));
        assert!(!csrf_ok(&c, &req("http://h/x", &[("X-CSRF-Token", &csrf_token(&c, "n2"))]), "n1"));
    }

    #[test]
    fn cookies_are_secure_except_on_localhost() {
        assert!(!session_cookie(&req("http://localhost:8787/", &[]), Some("v"), 60).contains("Secure"));
        let remote = session_cookie(&req("https://img.example.com/", &[]), Some("v"), 60);
        assert!(remote.contains("; Secure") && remote.contains("HttpOnly") && remote.contains("SameSite=Strict"));
    }
}
