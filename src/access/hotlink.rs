//! Hotlink protection (`ALLOWED_REFERERS`): images, `/random` and placeholders may be embedded
//! only by the sites listed (exact hosts, or `*.example.com` for its subdomains) and by this
//! host itself. A request without a Referer passes — apps, feed readers, privacy settings and
//! direct visits send none. The Referer only ever restricts: it grants nothing anywhere else.

use crate::base::error::ApiError;
use crate::config::Config;
use crate::http::{Request, Response};

/// Whether the request's Referer (if any) may embed images from here.
pub fn allowed(config: &Config, req: &Request) -> bool {
    if config.allowed_referers.is_empty() {
        return true;
    }
    let Some(referer) = req.header("referer").map(str::trim).filter(|r| !r.is_empty()) else {
        return true;
    };
    let Some(host) = url::Url::parse(referer).ok().and_then(|u| u.host_str().map(str::to_ascii_lowercase)) else {
        return false;
    };
    let own = [req.url.host_str(), req.header("host").map(|h| h.split(':').next().unwrap_or(h))]
        .into_iter()
        .flatten()
        .chain(config.public_url.as_deref().and_then(|u| u.split("://").nth(1)).map(|h| h.split(['/', ':']).next().unwrap_or(h)));
    own.into_iter().any(|h| h.eq_ignore_ascii_case(&host)) || config.allowed_referers.iter().any(|rule| matches(rule, &host))
}

fn matches(rule: &str, host: &str) -> bool {
    let rule = rule.trim().to_ascii_lowercase();
    match rule.strip_prefix("*.") {
        Some(base) => host.len() > base.len() + 1 && host.ends_with(&format!(".{base}")),
        None => host == rule,
    }
}

/// The answer to a refused hotlink: 403, or (`HOTLINK_IMAGE=true`) a small picture saying so,
/// which shows where a broken image would.
pub fn refusal(config: &Config) -> Response {
    if config.hotlink_image {
        let spec = crate::transform::placeholder::Spec { width: 240, height: 80, slug: "hotlinking-not-allowed".into(), format: None };
        let img = crate::transform::placeholder::draw(&spec, (240, 80), &Default::default());
        let mut png = Vec::new();
        if image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).is_ok() {
            return Response::new(403, "image/png", png).with_header("cache-control", "no-store");
        }
    }
    Response::from(ApiError::forbidden("images from this host may not be embedded on that site (ALLOWED_REFERERS)")).with_header("cache-control", "no-store")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    fn req(referer: Option<&str>) -> Request {
        let mut r = Request::new(Method::Get, "https://img.example.com/file/abc.jpg").unwrap();
        if let Some(v) = referer {
            r.headers.set("referer", v);
        }
        r
    }

    #[test]
    fn listed_sites_own_pages_and_no_referer_pass() {
        let c = Config { allowed_referers: vec!["blog.example.org".into(), "*.friends.net".into()], ..Config::default() };
        for ok in [
            None,
            Some("https://blog.example.org/post/1"),
            Some("https://a.friends.net/"),
            Some("https://x.y.friends.net/p"),
            Some("https://img.example.com/admin"),
        ] {
            assert!(allowed(&c, &req(ok)), "{ok:?}");
        }
        for bad in ["https://evil.example/", "https://friends.net/", "https://blog.example.org.evil.com/", "https://evilfriends.net/", "not a url"] {
            assert!(!allowed(&c, &req(Some(bad))), "{bad}");
        }
        assert!(allowed(&Config::default(), &req(Some("https://evil.example/"))), "off unless configured");
    }
}
