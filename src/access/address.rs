//! Who is asking, as far as limits are concerned: the client's address (an IPv6 client by its
//! /64), and the answer for one over a limit.

use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::http::Request;
use crate::platform::rate::Limit;

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

/// 429 for a request over `limit`.
pub fn over<P: Platform>(app: &App<P>, limit: Limit) -> ApiError {
    let wait = 60 - (app.now_ms / 1000) % 60;
    ApiError::new(429, "rate_limited", format!("too many {} from your address: try again in {wait} s", limit.what())).with_retry_after(wait)
}

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
