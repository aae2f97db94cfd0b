//! Injected faults, for tests: [`Faulty`] wraps any storage backend or HTTP client and makes
//! chosen calls fail, hang or answer garbage, so tests can check that every step of upload,
//! delete, PATCH, transform and random gives a clear 502/503/504 and leaves nothing behind.
//!
//! Natively a test holds the [`Faults`]; in the Worker they are set through
//! `POST /__faults`, which exists only when the `TEST_FAULTS` setting is on (never in a real
//! deployment: without it the rules stay empty and every call goes straight through).

use crate::http::Stream;
use crate::index::store::Op;
use crate::platform::upstream::{Http, OutRequest, OutResponse, Piece, UpstreamError};
use crate::platform::{Blob, Blobs, Kv, Pool, StoreError, StoreResult};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::cell::RefCell;
use std::rc::Rc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The call fails at once (an outage).
    Fail,
    /// The call never answers within its deadline.
    Hang,
    /// The call answers, with something unreadable.
    Garbage,
}

/// Which calls a rule hits: `service` is `r2`, `kv`, `pool`, `telegram` or `replicate`; `op`
/// a method (`put`, `get`, `head`, `delete`, `list`, `index`, `pick`…, or for the HTTP
/// services a part of the URL such as `sendDocument`), `*` for any. The first `skip` matching
/// calls pass; the next `times` (all, when absent) are hit.
#[derive(Debug, Clone, Deserialize)]
pub struct Rule {
    pub service: String,
    #[serde(default = "any")]
    pub op: String,
    pub mode: Mode,
    #[serde(default)]
    pub skip: u32,
    pub times: Option<u32>,
}

fn any() -> String {
    "*".into()
}

/// The rules in force, shared by every wrapper of one app.
#[derive(Debug, Default)]
pub struct Faults(RefCell<Vec<Rule>>);

impl Faults {
    pub fn set(&self, rules: Vec<Rule>) {
        *self.0.borrow_mut() = rules;
    }

    pub fn is_empty(&self) -> bool {
        self.0.borrow().is_empty()
    }

    /// The fault for this call, if a rule hits it (and counts the hit).
    pub fn hit(&self, service: &str, op: &str) -> Option<Mode> {
        let mut rules = self.0.borrow_mut();
        for r in rules.iter_mut() {
            let matches = r.service == service && (r.op == "*" || r.op == op || (op.contains('/') && op.contains(r.op.as_str())));
            if !matches || r.times == Some(0) {
                continue;
            }
            if r.skip > 0 {
                r.skip -= 1;
                return None;
            }
            if let Some(t) = r.times.as_mut() {
                *t -= 1;
            }
            return Some(r.mode);
        }
        None
    }
}

/// A backend with faults injected in front of it.
pub struct Faulty<T> {
    pub inner: T,
    pub faults: Rc<Faults>,
}

impl<T> Faulty<T> {
    pub fn new(inner: T, faults: Rc<Faults>) -> Self {
        Faulty { inner, faults }
    }

    fn check(&self, service: &str, op: &str) -> StoreResult<Option<Mode>> {
        match self.faults.hit(service, op) {
            Some(Mode::Fail) => Err(StoreError(format!("{service} {op}: injected failure"))),
            Some(Mode::Hang) => Err(StoreError::timed_out(&format!("{service} {op}"))),
            other => Ok(other),
        }
    }
}

/// Garbage where a value was expected: what a garbled answer becomes once parsed.
fn garbled(service: &str, op: &str) -> StoreError {
    StoreError(format!("{service} {op}: unreadable answer"))
}

impl<T: Blobs> Blobs for Faulty<T> {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str, custom: &[(&str, &str)]) -> StoreResult<()> {
        self.check("r2", "put")?;
        self.inner.put(key, bytes, content_type, custom).await
    }
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> StoreResult<Option<Blob>> {
        let mode = self.check("r2", "get")?;
        let blob = self.inner.get(key, range).await?;
        match (mode, blob) {
            // Same length, wrong bytes: the kind of garbage only a checksum notices.
            (Some(Mode::Garbage), Some(b)) => {
                let bytes = b.body.read_all().await.map_err(|e| StoreError(format!("r2 get: {e}")))?;
                let body = Stream::from_bytes(bytes.iter().map(|x| x ^ 0x5a).collect()).map_err(StoreError)?;
                Ok(Some(Blob { body, size: b.size, custom: b.custom }))
            }
            (_, blob) => Ok(blob),
        }
    }
    async fn head(&self, key: &str) -> StoreResult<Option<Vec<(String, String)>>> {
        if self.check("r2", "head")?.is_some() {
            return Err(garbled("r2", "head"));
        }
        self.inner.head(key).await
    }
    async fn delete(&self, key: &str) -> StoreResult<()> {
        self.check("r2", "delete")?;
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str, after: Option<&str>, limit: u32) -> StoreResult<Vec<crate::platform::Listed>> {
        if self.check("r2", "list")?.is_some() {
            return Err(garbled("r2", "list"));
        }
        self.inner.list(prefix, after, limit).await
    }
}

impl<T: Kv> Kv for Faulty<T> {
    async fn get(&self, key: &str) -> StoreResult<Option<String>> {
        let mode = self.check("kv", "get")?;
        let value = self.inner.get(key).await?;
        Ok(match mode {
            Some(Mode::Garbage) => value.map(|_| "\u{1}{\"garbage".to_string()),
            _ => value,
        })
    }
    async fn put(&self, key: &str, value: &str) -> StoreResult<()> {
        self.check("kv", "put")?;
        self.inner.put(key, value).await
    }
    async fn delete(&self, key: &str) -> StoreResult<()> {
        self.check("kv", "delete")?;
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str, cursor: Option<&str>, limit: u32) -> StoreResult<(Vec<String>, Option<String>)> {
        if self.check("kv", "list")?.is_some() {
            return Err(garbled("kv", "list"));
        }
        self.inner.list(prefix, cursor, limit).await
    }
}

/// Every index-store call answers through one JSON exchange, so garbage from it is a parse
/// failure: the same error as a failure, with another text.
impl<T: Pool> Pool for Faulty<T> {
    async fn call<R: DeserializeOwned>(&self, op: &Op) -> StoreResult<R> {
        if self.check("pool", op.name())?.is_some() {
            return Err(garbled("pool", op.name()));
        }
        self.inner.call(op).await
    }
}

impl<T: Http> Http for Faulty<T> {
    async fn send(&self, req: OutRequest, max_bytes: u64) -> Result<OutResponse, UpstreamError> {
        // The Bot API's paths hold "/bot<token>/", Replicate's "/v1/".
        let service = if req.url.contains("/bot") {
            "telegram"
        } else if req.url.contains("/v1/") {
            "replicate"
        } else {
            "web"
        };
        match self.faults.hit(service, &req.url) {
            Some(Mode::Fail) => Err(UpstreamError::Unreachable(format!("{service}: injected failure"))),
            Some(Mode::Hang) => {
                // A server that never answers: the request's own timeout ends it.
                self.inner.sleep(req.timeout_ms).await;
                Err(UpstreamError::TimedOut)
            }
            Some(Mode::Garbage) => Ok(OutResponse {
                status: 200,
                headers: [("content-type", "text/html")].into_iter().collect(),
                body: b"<html><body>502 Bad Gateway</body></html> \x00\xff".to_vec(),
            }),
            None => self.inner.send(req, max_bytes).await,
        }
    }
    async fn sleep(&self, ms: u64) {
        self.inner.sleep(ms).await
    }
    async fn stream(&self, pieces: &[Piece], timeout_ms: u64) -> Result<Result<Stream, u16>, UpstreamError> {
        // While faults are set, piece by piece through `send`, where they apply.
        match self.faults.is_empty() {
            true => self.inner.stream(pieces, timeout_ms).await,
            false => crate::platform::upstream::stream_by_send(self, pieces, timeout_ms).await,
        }
    }
    fn now_ms(&self) -> u64 {
        self.inner.now_ms()
    }
}
