//! Outgoing HTTP, behind a trait like storage: fetching an image by URL, and later the
//! Telegram and Replicate APIs. The Worker uses `fetch`; tests use fakes or local servers.
//!
//! Fetching a URL a client names is a classic way into a server's own network (SSRF), so
//! [`fetch_public`] allows only http(s) on the default ports to public hosts, checks every
//! redirect target again (following them by hand), reads at most the upload limit and gives up
//! after [`FETCH_TIMEOUT_MS`](crate::budget::FETCH_TIMEOUT_MS).

use crate::base::error::{human_bytes, ApiError};
use crate::budget::{FETCH_TIMEOUT_MS, MAX_FETCH_REDIRECTS};
use crate::http::{Headers, Stream};
use std::net::{IpAddr, Ipv4Addr};
use url::{Host, Url};

#[derive(Debug, Clone)]
pub struct OutRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Redirects are answered as they are, for the caller to check and follow.
    pub manual_redirects: bool,
    /// The whole exchange, body included, is abandoned after this long.
    pub timeout_ms: u64,
}

impl OutRequest {
    pub fn get(url: &str) -> OutRequest {
        OutRequest { method: "GET", url: url.to_string(), headers: Vec::new(), body: Vec::new(), manual_redirects: false, timeout_ms: FETCH_TIMEOUT_MS }
    }
}

#[derive(Debug, Clone)]
pub struct OutResponse {
    pub status: u16,
    pub headers: Headers,
    pub body: Vec<u8>,
}

/// Why a request got no usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamError {
    /// DNS, connection, TLS: the text is for logs only.
    Unreachable(String),
    /// The body was longer than the caller's limit; reading stopped there.
    TooLarge,
    TimedOut,
}

/// One piece of a streamed answer: `len` bytes from `from` of the `size` bytes `url` serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub url: String,
    pub from: u64,
    pub len: u64,
    pub size: u64,
}

impl Piece {
    /// All of it: no `Range` is sent.
    pub fn whole(&self) -> bool {
        self.from == 0 && self.len == self.size
    }

    pub fn request(&self, timeout_ms: u64) -> OutRequest {
        let mut req = OutRequest::get(&self.url);
        req.timeout_ms = timeout_ms;
        if !self.whole() {
            req.headers.push(("range".into(), format!("bytes={}-{}", self.from, self.from + self.len - 1)));
        }
        req
    }

    /// This piece out of an answer: a 206 is the piece, a 200 (a server that ignores `Range`)
    /// holds it; anything else is refused with its status.
    pub fn take(&self, resp: OutResponse) -> Result<Vec<u8>, u16> {
        let (from, end) = (self.from as usize, (self.from + self.len) as usize);
        match resp.status {
            200 if resp.body.len() >= end => Ok(if self.whole() { resp.body } else { resp.body[from..end].to_vec() }),
            206 if resp.body.len() as u64 == self.len => Ok(resp.body),
            200 | 206 => Err(502),
            s => Err(s),
        }
    }
}

#[allow(async_fn_in_trait)]
pub trait Http {
    /// Sends a request. Reading the answer stops as soon as it passes `max_bytes`, so a hostile
    /// server cannot fill the isolate's memory, and everything stops after `req.timeout_ms`.
    async fn send(&self, req: OutRequest, max_bytes: u64) -> Result<OutResponse, UpstreamError>;
    /// Waits, for polling and `Retry-After`.
    async fn sleep(&self, ms: u64);
    /// Milliseconds since the epoch, for deadlines that span several requests.
    fn now_ms(&self) -> u64;
    /// The pieces one after another as one stream. The first is requested before this returns
    /// (`Ok(Err(status))` when it is refused); the Worker requests each next one only when the
    /// one before it has been read, so at most a chunk is held. This default reads them all
    /// through [`Http::send`], which is what the native fakes need.
    async fn stream(&self, pieces: &[Piece], timeout_ms: u64) -> Result<Result<Stream, u16>, UpstreamError> {
        stream_by_send(self, pieces, timeout_ms).await
    }
}

/// [`Http::stream`] in memory, one [`Http::send`] after another.
pub async fn stream_by_send<H: Http + ?Sized>(http: &H, pieces: &[Piece], timeout_ms: u64) -> Result<Result<Stream, u16>, UpstreamError> {
    let mut out = Vec::new();
    for piece in pieces {
        match piece.take(http.send(piece.request(timeout_ms), piece.size).await?) {
            Ok(bytes) => out.extend(bytes),
            Err(status) => return Ok(Err(status)),
        }
    }
    Ok(Ok(Stream::from_bytes(out).map_err(UpstreamError::Unreachable)?))
}

fn refused(why: &str) -> ApiError {
    ApiError::bad_request("bad_source", format!("imgbed fetches images only from public http(s) addresses: {why}"))
}

/// Addresses no public image lives at: loopback, private, link-local (cloud metadata),
/// carrier-grade NAT, multicast, reserved and documentation ranges.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64 can reach private IPv4
                || (s[0] == 0x2002)) // 6to4 likewise
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

/// Checks one URL before it is fetched. `own_hosts` are this Worker's names (a fetch of itself
/// would loop); `allowed` are `host:port` pairs the operator opened (`URL_UPLOAD_ALLOW_HOSTS`,
/// e.g. an intranet image server), which skip the public-address rules.
pub fn check_public_url(url: &Url, own_hosts: &[String], allowed: &[String]) -> Result<(), ApiError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refused("only http and https URLs"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused("URLs with credentials are not fetched"));
    }
    let host = url.host().ok_or_else(|| refused("the URL has no host"))?;
    let name = url.host_str().unwrap_or("").trim_end_matches('.').to_ascii_lowercase();
    let port = url.port_or_known_default().unwrap_or(0);
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(&format!("{name}:{port}"))) {
        return Ok(());
    }
    if url.port().is_some() {
        return Err(refused("only the default ports (80 and 443)"));
    }
    if own_hosts.iter().any(|h| h.eq_ignore_ascii_case(&name)) {
        return Err(refused("not this server itself"));
    }
    match host {
        Host::Ipv4(ip) if !is_public_ip(IpAddr::V4(ip)) => Err(refused("not a private or local address")),
        Host::Ipv6(ip) if !is_public_ip(IpAddr::V6(ip)) => Err(refused("not a private or local address")),
        Host::Domain(_) => {
            let internal = ["localhost", "local", "internal", "localdomain", "home.arpa", "lan", "intranet"];
            if !name.contains('.') || internal.iter().any(|s| name == *s || name.ends_with(&format!(".{s}"))) {
                return Err(refused("not a local or internal host name"));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Fetches an image a client named by URL, following at most
/// [`MAX_FETCH_REDIRECTS`] redirects and checking each target. Errors never echo what the
/// other server said or why the connection failed.
pub async fn fetch_public<H: Http>(http: &H, url: &str, own_hosts: &[String], allowed: &[String], limit: u64) -> Result<Vec<u8>, ApiError> {
    let mut current = Url::parse(url).map_err(|_| refused("the URL cannot be read"))?;
    for _ in 0..=MAX_FETCH_REDIRECTS {
        check_public_url(&current, own_hosts, allowed)?;
        let req = OutRequest { manual_redirects: true, ..OutRequest::get(current.as_str()) };
        let resp = http.send(req, limit).await.map_err(|e| match e {
            UpstreamError::TooLarge => {
                ApiError::new(413, "file_too_large", format!("the image at that URL is larger than the upload limit of {}", human_bytes(limit)))
            }
            UpstreamError::TimedOut => {
                ApiError::new(504, "source_timeout", format!("the image at that URL did not arrive within {} s", FETCH_TIMEOUT_MS / 1000))
            }
            UpstreamError::Unreachable(why) => {
                crate::base::log::error(&format!("fetching a source URL failed: {why}"));
                ApiError::new(502, "source_unreachable", "the server at that URL could not be reached")
            }
        })?;
        if matches!(resp.status, 301 | 302 | 303 | 307 | 308) {
            let location = resp.headers.get("location").ok_or_else(|| ApiError::bad_request("bad_source", "that URL redirects nowhere"))?;
            current = current.join(location).map_err(|_| ApiError::bad_request("bad_source", "that URL redirects to an address that cannot be read"))?;
            continue;
        }
        if !(200..300).contains(&resp.status) {
            return Err(ApiError::bad_request("bad_source", format!("that URL answered HTTP {}, not an image", resp.status)));
        }
        return Ok(resp.body);
    }
    Err(ApiError::bad_request("bad_source", format!("that URL redirects more than {MAX_FETCH_REDIRECTS} times")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str) -> Result<(), ApiError> {
        check_public_url(&Url::parse(url).unwrap(), &["img.example.com".into()], &["127.0.0.1:9999".into()])
    }

    #[test]
    fn private_and_odd_targets_are_refused() {
        for bad in [
            "http://127.0.0.1/x.jpg",
            "http://2130706433/x.jpg",
            "http://0x7f.1/x.jpg",
            "http://[::1]/x.jpg",
            "http://[::ffff:127.0.0.1]/",
            "http://10.0.0.5/",
            "http://172.16.3.4/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://localhost/",
            "http://printer.local/",
            "http://metadata.google.internal/",
            "http://intranet/",
            "https://img.example.com/file/x.jpg",
            "https://example.com:8443/x.jpg",
            "ftp://example.com/x.jpg",
            "file:///etc/passwd",
            "http://user:pw@example.com/x.jpg",
            "http://127.0.0.1:9998/",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn public_targets_and_allowed_hosts_pass() {
        for good in ["https://example.com/cat.jpg", "http://93.184.216.34/x.png", "https://[2606:4700::1]/x.jpg", "http://127.0.0.1:9999/x.jpg"] {
            assert!(check(good).is_ok(), "{good}");
        }
    }
}
