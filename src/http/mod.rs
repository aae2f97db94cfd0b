//! Plain HTTP request and response values.
//!
//! Handlers take and return these instead of `worker::Request`/`worker::Response`, so the whole
//! application runs natively in unit tests; `adapters::worker` converts at the edge.

pub mod conditional;
pub mod multipart;

use crate::base::error::ApiError;
use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Patch,
    Options,
    /// WebDAV's, for the drive at `/dav`.
    Propfind,
    Proppatch,
    Mkcol,
    Move,
    Lock,
    Unlock,
    Other,
}

impl Method {
    pub fn parse(s: &str) -> Method {
        match s.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            "OPTIONS" => Method::Options,
            "PROPFIND" => Method::Propfind,
            "PROPPATCH" => Method::Proppatch,
            "MKCOL" => Method::Mkcol,
            "MOVE" => Method::Move,
            "LOCK" => Method::Lock,
            "UNLOCK" => Method::Unlock,
            _ => Method::Other,
        }
    }
}

/// Header list with case-insensitive lookup; names are stored lower-case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Replaces any existing value.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.0.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.0.push((name.to_ascii_lowercase(), value.into()));
    }

    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<K: AsRef<str>, V: Into<String>> FromIterator<(K, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut h = Headers::new();
        for (k, v) in iter {
            h.0.push((k.as_ref().to_ascii_lowercase(), v.into()));
        }
        h
    }
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub url: Url,
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl Request {
    pub fn new(method: Method, url: &str) -> Result<Request, ApiError> {
        let url = Url::parse(url).map_err(|e| ApiError::bad_request("bad_url", e.to_string()))?;
        Ok(Request { method, url, headers: Headers::new(), body: Vec::new() })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// First value of a query parameter, percent-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        self.url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }

    /// `https://host[:port]`, with `PUBLIC_URL` taking precedence when set.
    pub fn origin(&self) -> String {
        self.url.origin().ascii_serialization()
    }

    /// Path segments, percent-decoded, without empty ones.
    pub fn segments(&self) -> Vec<String> {
        segments(&self.url)
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }
}

/// A URL's path as its non-empty segments, percent-decoded.
pub fn segments(url: &url::Url) -> Vec<String> {
    url.path_segments()
        .map(|it| it.filter(|s| !s.is_empty()).map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()).collect())
        .unwrap_or_default()
}

/// A body the platform pipes from storage to the client without it entering wasm memory:
/// a `ReadableStream` in the Worker. Natively (tests) it holds the bytes it would stream.
#[cfg(target_arch = "wasm32")]
#[derive(Debug, Clone)]
pub struct Stream(pub worker::web_sys::ReadableStream);
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream(pub Vec<u8>);

impl Stream {
    /// A stream over bytes already in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Stream, String> {
        #[cfg(target_arch = "wasm32")]
        {
            let mut bytes = bytes;
            let resp = worker::web_sys::Response::new_with_opt_u8_array(Some(&mut bytes)).map_err(|e| format!("{e:?}"))?;
            resp.body().map(Stream).ok_or_else(|| "a response over bytes has no body".to_string())
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            Ok(Stream(bytes))
        }
    }

    /// Reads the whole stream into memory: for the few readers that must look at the bytes
    /// (transforms, moves), never for serving them.
    pub async fn read_all(self) -> Result<Vec<u8>, String> {
        #[cfg(target_arch = "wasm32")]
        {
            use worker::wasm_bindgen::JsCast;
            let resp = worker::web_sys::Response::new_with_opt_readable_stream(Some(&self.0)).map_err(|e| format!("{e:?}"))?;
            let promise = resp.array_buffer().map_err(|e| format!("{e:?}"))?;
            let buffer = worker::wasm_bindgen_futures::JsFuture::from(promise).await.map_err(|e| format!("{e:?}"))?;
            Ok(worker::js_sys::Uint8Array::new(buffer.unchecked_ref()).to_vec())
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            Ok(self.0)
        }
    }
}

/// What an answer carries: bytes imgbed made (pages, JSON, transforms), or a stream from
/// storage (originals, edge-cache hits, Telegram parts) that never enters wasm memory.
#[derive(Debug, Clone)]
pub enum Body {
    Bytes(Vec<u8>),
    Stream(Stream),
}

impl Body {
    pub fn is_empty(&self) -> bool {
        matches!(self, Body::Bytes(b) if b.is_empty())
    }

    /// The bytes of a body, as native tests see them.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn bytes(&self) -> &[u8] {
        match self {
            Body::Bytes(b) | Body::Stream(Stream(b)) => b,
        }
    }
}

impl Default for Body {
    fn default() -> Body {
        Body::Bytes(Vec::new())
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Body {
        Body::Bytes(b)
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Headers,
    pub body: Body,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Response {
        let mut headers = Headers::new();
        headers.set("content-type", content_type);
        Response { status, headers, body: Body::Bytes(body) }
    }

    pub fn stream(status: u16, content_type: &str, body: Stream) -> Response {
        let mut r = Response::new(status, content_type, Vec::new());
        r.body = Body::Stream(body);
        r
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response::new(status, "application/json; charset=utf-8", value.to_string().into_bytes())
    }

    pub fn text(status: u16, text: impl Into<String>) -> Response {
        Response::new(status, "text/plain; charset=utf-8", text.into().into_bytes())
    }

    pub fn html(status: u16, html: impl Into<String>) -> Response {
        Response::new(status, "text/html; charset=utf-8", html.into().into_bytes())
    }

    pub fn empty(status: u16) -> Response {
        Response { status, headers: Headers::new(), body: Body::default() }
    }

    pub fn redirect(status: u16, location: &str) -> Response {
        let mut r = Response::empty(status);
        r.headers.set("location", location);
        r.headers.set("cache-control", "no-store");
        r
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.set(name, value);
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// Carries an error's `Retry-After` over to an answer in a client protocol's own shape.
    pub fn retrying(mut self, e: &ApiError) -> Response {
        if let Some(s) = e.retry_after {
            self.headers.set("retry-after", s.to_string());
        }
        self
    }
}

impl From<ApiError> for Response {
    fn from(e: ApiError) -> Response {
        let mut r = Response::new(e.status, "application/json; charset=utf-8", e.body());
        r.headers.set("cache-control", "no-store");
        r.retrying(&e)
    }
}

/// Percent-encodes a value for use in a URL query or `filename*=`.
pub fn pct_encode(s: &str) -> String {
    // RFC 3986 unreserved characters stay as they are.
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// Formats milliseconds since the epoch as an HTTP date.
pub fn http_date(ms: u64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
}

/// Parses an HTTP date into seconds since the epoch.
pub fn parse_http_date(s: &str) -> Option<u64> {
    let t = httpdate::parse_http_date(s.trim()).ok()?;
    t.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_case_insensitive() {
        let h: Headers = [("Content-Type", "image/png")].into_iter().collect();
        assert_eq!(h.get("content-type"), Some("image/png"));
        assert_eq!(h.get("CONTENT-TYPE"), Some("image/png"));
    }

    #[test]
    fn segments_are_decoded() {
        let r = Request::new(Method::Get, "http://x/file/a%20b+c.png//").unwrap();
        assert_eq!(r.segments(), vec!["file", "a b+c.png"]);
    }

    #[test]
    fn http_dates_round_trip() {
        let s = http_date(1_700_000_000_000);
        assert_eq!(s, "Tue, 14 Nov 2023 22:13:20 GMT");
        assert_eq!(parse_http_date(&s), Some(1_700_000_000));
    }
}
