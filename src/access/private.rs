//! Private images and password albums. A private image is served only to the admin and through
//! a signed link that expires, `…/file/<id>.<ext>?expires=<unix seconds>&access=<mac>`; the MAC
//! covers the id and the expiry, so the link's variants (`&w=400`) are signed too. A gallery
//! album with a password lets in a browser holding that album's cookie, handed out for the
//! right password. Both are keyed by [`auth::derived_key`]: changing the admin credentials or
//! `SECRET_KEY` ends every link and cookie.

use crate::access::auth;
use crate::base::error::ApiError;
use crate::base::ids::{hmac_base64, random_token, same_secret};
use crate::config::Config;
use crate::http::Request;

pub const EXPIRES: &str = "expires";
pub const ACCESS: &str = "access";
/// The query parameters of a signed link (not transform options).
pub const LINK_PARAMS: [&str; 2] = [EXPIRES, ACCESS];
/// The longest a link may live: a year.
pub const MAX_LINK_SECONDS: u64 = 365 * 86_400;

fn link_mac(config: &Config, id: &str, expires: u64) -> String {
    hmac_base64(&auth::derived_key(config, "imgbed-links"), &format!("{id}:{expires}"), 24)
}

/// The query of a link to `id` that works until `expires` (unix seconds).
pub fn link_query(config: &Config, id: &str, expires: u64) -> String {
    format!("{EXPIRES}={expires}&{ACCESS}={}", link_mac(config, id, expires))
}

/// What a request's link says about image `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// No signed link.
    None,
    Valid,
    Expired,
    Forged,
}

pub fn check_link(config: &Config, req: &Request, id: &str, now_ms: u64) -> Link {
    let (Some(expires), Some(mac)) = (req.query(EXPIRES), req.query(ACCESS)) else {
        return Link::None;
    };
    let Ok(expires) = expires.parse::<u64>() else {
        return Link::Forged;
    };
    if !same_secret(&link_mac(config, id, expires), &mac) {
        Link::Forged
    } else if expires * 1000 <= now_ms {
        Link::Expired
    } else {
        Link::Valid
    }
}

/// The refusal for a link that does not open the image.
pub fn refusal(link: Link) -> ApiError {
    match link {
        Link::Expired => ApiError::new(403, "link_expired", "this link has expired: ask its owner for a new one"),
        _ => ApiError::new(403, "bad_signature", "this link's signature does not match: copy the whole link"),
    }
}

/// How an album password is kept: `<salt>.<HMAC(salt, password)>`.
pub fn hash_password(password: &str) -> String {
    let salt = random_token();
    format!("{salt}.{}", hmac_base64(&salt, password, 32))
}

pub fn password_matches(stored: &str, password: &str) -> bool {
    stored.split_once('.').is_some_and(|(salt, mac)| same_secret(&hmac_base64(salt, password, 32), mac))
}

/// The cookie that opens album `album` in the gallery: its name from the album's (so each
/// album has its own), its value bound to the stored password hash (a new password closes it).
pub fn album_cookie(config: &Config, album: &str, stored: &str) -> (String, String) {
    let key = auth::derived_key(config, "imgbed-albums");
    (format!("imgbed_album_{}", &hmac_base64(&key, album, 9)), hmac_base64(&key, &format!("{album}\n{stored}"), 24))
}

/// Whether the request holds the cookie of album `album`.
pub fn album_open(config: &Config, req: &Request, album: &str, stored: &str) -> bool {
    let (name, value) = album_cookie(config, album, stored);
    auth::cookie(req, &name).is_some_and(|v| same_secret(&v, &value))
}

/// Checks `expires_in` for a new link.
pub fn link_seconds(v: Option<&serde_json::Value>) -> Result<u64, ApiError> {
    match v {
        None => Ok(86_400),
        Some(v) => v
            .as_u64()
            .filter(|s| (1..=MAX_LINK_SECONDS).contains(s))
            .ok_or_else(|| ApiError::bad_request("bad_parameter", format!("expires_in must be a number of seconds from 1 to {MAX_LINK_SECONDS} (a year)"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(query: &str) -> Request {
        Request::new(crate::http::Method::Get, &format!("https://h/file/abc.png?{query}")).unwrap()
    }

    #[test]
    fn links_open_their_image_until_they_expire() {
        let c = Config { admin_token: Some("admin".into()), ..Config::default() };
        let q = link_query(&c, "abc", 2_000);
        assert_eq!(check_link(&c, &req(&q), "abc", 1_999_000), Link::Valid);
        assert_eq!(check_link(&c, &req(&format!("{q}&w=300")), "abc", 1_999_000), Link::Valid, "variants of a link are signed too");
        assert_eq!(check_link(&c, &req(&q), "abc", 2_000_000), Link::Expired);
        assert_eq!(check_link(&c, &req(&q), "abd", 1_000), Link::Forged, "a link opens only its own image");
        assert_eq!(check_link(&c, &req(&q.replace("2000", "9000")), "abc", 1_000), Link::Forged, "the expiry cannot be moved");
        let other = Config { admin_token: Some("new".into()), ..Config::default() };
        assert_eq!(check_link(&other, &req(&q), "abc", 1_000), Link::Forged, "new credentials end old links");
        assert_eq!(check_link(&c, &req("w=3"), "abc", 1_000), Link::None);
    }

    #[test]
    fn album_passwords() {
        let stored = hash_password("s3cret");
        assert!(password_matches(&stored, "s3cret") && !password_matches(&stored, "s3cret "));
        assert_ne!(stored, hash_password("s3cret"), "salted");
    }
}
