//! Who may upload and who may administer.
//!
//! Clients send tokens in many ways; all of them are accepted so that PicGo, PicList, ShareX,
//! curl scripts and the web page work with their own built-in settings.

use crate::config::Config;
use crate::error::ApiError;
use crate::http::Request;

/// The token a request carries, in the first of the accepted places that has one.
pub fn presented_token(req: &Request) -> Option<String> {
    let from_auth = req.header("authorization").map(|v| {
        let v = v.trim();
        match v.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token") => rest.trim(),
            _ => v,
        }
        .to_string()
    });
    from_auth
        .or_else(|| req.header("token").map(str::to_string))
        .or_else(|| req.header("x-api-key").map(str::to_string))
        .or_else(|| req.query("key"))
        .or_else(|| req.query("authCode"))
        .or_else(|| req.query("token"))
        .filter(|t| !t.is_empty())
}

/// Compares secrets in time independent of where they first differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
    crate::ids::sha256_hex(format!("imgbed-owner:{token}").as_bytes())[..32].to_string()
}

/// A token presented in a header or the query that is not accepted: refused before the body is
/// read. `None` when there is none (it may still come in the body) or it is good.
pub fn refuse_early(config: &Config, req: &Request) -> Option<ApiError> {
    let t = presented_token(req)?;
    let good = is_admin_token(config, &t) || config.upload_tokens.iter().any(|u| same_secret(u, &t));
    (!good && !config.allow_anonymous_upload).then(|| ApiError::forbidden("the upload token is not accepted"))
}

/// Checks upload permission; `extra` is a token found in the body (e.g. a form field `key`).
pub fn check_upload(config: &Config, req: &Request, extra: Option<&str>) -> Result<Uploader, ApiError> {
    let token = presented_token(req).or_else(|| extra.map(str::to_string).filter(|t| !t.is_empty()));
    match token {
        Some(t) if is_admin_token(config, &t) => Ok(Uploader::Admin),
        Some(t) if config.upload_tokens.iter().any(|u| same_secret(u, &t)) => Ok(Uploader::Token(fingerprint(&t))),
        _ if config.allow_anonymous_upload => Ok(Uploader::Anonymous),
        Some(_) => Err(ApiError::forbidden("the upload token is not accepted")),
        None => Err(ApiError::unauthorized(
            "uploading needs a token: send it as 'Authorization: Bearer <token>' (or X-API-Key, or ?key=)",
        )),
    }
}

/// True when the request carries the admin token.
pub fn is_admin(config: &Config, req: &Request) -> bool {
    presented_token(req).is_some_and(|t| is_admin_token(config, &t))
}

/// Checks admin permission for admin-only endpoints.
pub fn check_admin(config: &Config, req: &Request) -> Result<(), ApiError> {
    match presented_token(req) {
        _ if config.admin_token.is_none() => Err(ApiError::forbidden("the admin API is off: set ADMIN_TOKEN to turn it on")),
        Some(t) if is_admin_token(config, &t) => Ok(()),
        Some(_) => Err(ApiError::forbidden("the admin token is not accepted")),
        None => Err(ApiError::unauthorized("this needs the admin token: send 'Authorization: Bearer <ADMIN_TOKEN>'")),
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
            req("http://h/upload", &[("Authorization", "Bearer adm")]),
        ] {
            assert!(check_upload(&c, &r, None).is_ok(), "{:?}", r.headers);
        }
        assert!(check_upload(&c, &req("http://h/", &[]), Some("up")).is_ok());
    }

    #[test]
    fn missing_is_401_and_wrong_is_403() {
        let c = config();
        assert_eq!(check_upload(&c, &req("http://h/", &[]), None).unwrap_err().status, 401);
        assert_eq!(check_upload(&c, &req("http://h/", &[("Authorization", "Bearer nope")]), None).unwrap_err().status, 403);
        assert_eq!(check_upload(&c, &req("http://h/", &[("Authorization", "Bearer u")]), None).unwrap_err().status, 403);
    }

    #[test]
    fn anonymous_when_allowed() {
        let c = Config { allow_anonymous_upload: true, ..config() };
        assert_eq!(check_upload(&c, &req("http://h/", &[]), None), Ok(Uploader::Anonymous));
    }

    #[test]
    fn owners_are_fingerprints_not_tokens() {
        let c = Config { upload_tokens: vec!["up".into(), "other".into()], ..config() };
        let me = check_upload(&c, &req("http://h/", &[("Authorization", "Bearer up")]), None).unwrap();
        let them = check_upload(&c, &req("http://h/", &[("Authorization", "Bearer other")]), None).unwrap();
        let owner = me.owner().unwrap();
        assert!(!owner.contains("up") || owner.len() == 32);
        assert!(me.owns(Some(&owner)) && !them.owns(Some(&owner)));
        assert!(!Uploader::Anonymous.owns(None) && Uploader::Admin.owns(None));
    }

    #[test]
    fn upload_token_is_not_admin() {
        let c = config();
        assert!(check_admin(&c, &req("http://h/", &[("Authorization", "Bearer up")])).is_err());
        assert!(check_admin(&c, &req("http://h/", &[("Authorization", "Bearer adm")])).is_ok());
    }
}
