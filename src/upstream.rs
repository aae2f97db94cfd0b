//! Outgoing HTTP, behind a trait like storage: fetching an image by URL, and later the
//! Telegram and Replicate APIs. The Worker uses `fetch`; tests use fakes or local servers.

use crate::http::Headers;

#[derive(Debug, Clone)]
pub struct OutRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl OutRequest {
    pub fn get(url: &str) -> OutRequest {
        OutRequest { method: "GET", url: url.to_string(), headers: Vec::new(), body: Vec::new() }
    }
}

#[derive(Debug, Clone)]
pub struct OutResponse {
    pub status: u16,
    pub headers: Headers,
    pub body: Vec<u8>,
}

/// The request never got an answer (DNS, connection, TLS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamError(pub String);

#[allow(async_fn_in_trait)]
pub trait Http {
    /// Sends a request; answers larger than `max_bytes` are cut off with an error, so a
    /// hostile server cannot fill the isolate's memory.
    async fn send(&self, req: OutRequest, max_bytes: u64) -> Result<OutResponse, UpstreamError>;
}
