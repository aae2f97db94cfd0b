//! The HTML pages imgbed serves (upload page, console, placeholder gallery, delete links) and
//! the headers that lock them down: a Content-Security-Policy that allows only this page's own
//! inline script and style blocks (by hash), requests to this origin (and `PUBLIC_URL`'s), no
//! framing and no Referer to other sites. Images get a policy of their own (see
//! [`IMAGE_CSP`]), so a hostile file opened directly can never run script.

pub mod i18n;

use crate::http::{Request, Response};
use base64::Engine;
use sha2::{Digest, Sha256};

/// For every image answer: nothing loads, nothing runs.
pub const IMAGE_CSP: &str = "default-src 'none'; sandbox";

/// `'sha256-…'` sources for the contents of every `<tag>…</tag>` block of a page.
fn hashes(html: &str, tag: &str) -> String {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(&open) {
        let body = &rest[start + open.len()..];
        let Some(end) = body.find(&close) else { break };
        let digest = Sha256::digest(&body.as_bytes()[..end]);
        out.push(format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest)));
        rest = &body[end + close.len()..];
    }
    if out.is_empty() {
        "'none'".to_string()
    } else {
        out.join(" ")
    }
}

/// A page with its security headers. `public_url` is `PUBLIC_URL` when it names another
/// origin than the page's, so images and API calls may go there.
pub fn page(status: u16, html: impl Into<String>, public_url: Option<&str>) -> Response {
    let html = html.into();
    let other = public_url.map(|u| format!(" {u}")).unwrap_or_default();
    let csp = format!(
        "default-src 'none'; script-src {}; style-src {}; img-src 'self' data: blob:{other}; connect-src 'self'{other}; \
         form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        hashes(&html, "script"),
        hashes(&html, "style"),
    );
    Response::html(status, html)
        .with_header("content-security-policy", csp)
        .with_header("x-frame-options", "DENY")
        .with_header("referrer-policy", "same-origin")
}

/// Every page made from a file, with the section of the language tables its texts are in.
pub const LOCALIZED: [(&str, &str); 4] = [
    ("upload", include_str!("index.html")),
    ("console", include_str!("admin.html")),
    ("gallery", include_str!("gallery.html")),
    ("placeholders", include_str!("placeholders.html")),
];

/// The page of `section` in the reader's language (see [`i18n`]), with its security headers.
pub fn localized(req: &Request, status: u16, section: &str, public_url: Option<&str>) -> Response {
    let html = LOCALIZED.iter().find(|(s, _)| *s == section).map_or("", |(_, h)| h);
    let lang = i18n::choose(req);
    page(status, i18n::localize(html, section, lang), public_url)
        .with_header("content-language", i18n::LANGUAGES[lang].0)
        .with_header("vary", "Accept-Language, Cookie")
}

/// Text made safe to put into HTML.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_pages_own_blocks_are_allowed() {
        let r = page(200, "<style>a{}</style><script>go()</script><script>more()</script>", None);
        let csp = r.header("content-security-policy").unwrap();
        let sha = |s: &str| base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s.as_bytes()));
        assert!(csp.contains(&format!("script-src 'sha256-{}' 'sha256-{}';", sha("go()"), sha("more()"))), "{csp}");
        assert!(csp.contains(&format!("style-src 'sha256-{}';", sha("a{}"))));
        assert!(!csp.contains("unsafe"));
        assert!(csp.contains("frame-ancestors 'none'"));
        let bare = page(200, "<p>hi</p>", Some("https://img.example.com"));
        let csp = bare.header("content-security-policy").unwrap();
        assert!(csp.contains("script-src 'none'") && csp.contains("img-src 'self' data: blob: https://img.example.com"));
    }
}
