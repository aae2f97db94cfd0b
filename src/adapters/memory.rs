//! An in-memory platform for native tests of the whole application: storage that can be
//! inspected and switched off, and canned answers for outgoing HTTP.

use crate::app::Platform;
use crate::index::sql::{Arg, Sql};
use crate::index::store::{self, Op};
use crate::platform::faults::Faulty;
use crate::platform::rate::{Limit, RateLimiter};
use crate::platform::upstream::{Http, OutRequest, OutResponse, UpstreamError};
use crate::platform::{Blob, Blobs, EdgeCache, Images, ImagesError, Kv, Listed, Pool, StoreError, StoreResult};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

/// Borrows its parts, so a test keeps them to look inside after each request.
pub struct MemoryPlatform<'a>(std::marker::PhantomData<&'a ()>);

/// Every part behind [`Faulty`], so a test can inject faults at any call.
impl<'a> Platform for MemoryPlatform<'a> {
    type Blobs = Faulty<&'a MemoryBlobs>;
    type Kv = Faulty<&'a MemoryKv>;
    type Pool = Faulty<&'a MemoryPool>;
    type Http = Faulty<&'a MemoryHttp>;
    type Cache = &'a MemoryCache;
    type Limits = &'a MemoryLimits;
    type Images = NoImages;
}

/// No Cloudflare Images binding: natively, every variant is made by the wasm pipeline.
pub struct NoImages;

impl Images for NoImages {
    fn bound(&self) -> bool {
        false
    }
    async fn transform(&self, _: crate::http::Stream, _: Option<&str>, _: &crate::transform::engine::Spec) -> Result<Vec<u8>, ImagesError> {
        Err(ImagesError::Failed("no [images] binding".into()))
    }
}

/// The rate-limiting binding as counters that never reset: `caps` holds the limits that are
/// configured (absent = unlimited, like a missing binding).
#[derive(Debug, Default)]
pub struct MemoryLimits {
    pub caps: RefCell<BTreeMap<Limit, u32>>,
    pub counts: RefCell<BTreeMap<(Limit, String), u32>>,
}

impl RateLimiter for &MemoryLimits {
    async fn allow(&self, limit: Limit, key: &str) -> bool {
        let Some(cap) = self.caps.borrow().get(&limit).copied() else {
            return true;
        };
        let mut counts = self.counts.borrow_mut();
        let n = counts.entry((limit, key.to_string())).or_default();
        *n += 1;
        *n <= cap
    }
}

/// The edge cache as a map.
#[derive(Debug, Default)]
pub struct MemoryCache {
    pub answers: RefCell<BTreeMap<String, crate::http::Response>>,
}

impl EdgeCache for &MemoryCache {
    async fn get(&self, key: &str) -> Option<crate::http::Response> {
        self.answers.borrow().get(key).cloned()
    }
    async fn put(&self, key: &str, resp: &crate::http::Response) {
        self.answers.borrow_mut().insert(key.to_string(), resp.clone());
    }
    async fn delete(&self, key: &str) -> bool {
        self.answers.borrow_mut().remove(key).is_some()
    }
}

/// The index store on a real (in-memory) SQLite, the engine of the Durable Object: the same
/// statements ([`crate::index::store`]) run here, reached through the same JSON.
pub struct MemoryPool {
    db: RefCell<rusqlite::Connection>,
}

impl Default for MemoryPool {
    fn default() -> Self {
        let pool = MemoryPool { db: RefCell::new(rusqlite::Connection::open_in_memory().expect("in-memory SQLite")) };
        store::open(&pool).expect("the index schema");
        pool
    }
}

impl MemoryPool {
    /// Every id in the pools: for tests that check pools against records.
    pub fn ids(&self) -> Vec<String> {
        let rows = self.rows("SELECT id FROM images ORDER BY id", vec![]).expect("the pools table");
        rows.iter().filter_map(|r| r["id"].as_str().map(str::to_string)).collect()
    }
}

/// The catalog's statements on a real (in-memory) SQLite, the engine of the Durable Object.
impl Sql for MemoryPool {
    type Error = StoreError;
    fn rows(&self, sql: &str, args: Vec<Arg>) -> StoreResult<Vec<Value>> {
        use rusqlite::types::{Value as V, ValueRef};
        let err = |e: rusqlite::Error| StoreError(format!("sqlite: {e}"));
        let db = self.db.borrow();
        let mut stmt = db.prepare(sql).map_err(err)?;
        let names: Vec<String> = stmt.column_names().iter().map(|n| n.to_string()).collect();
        let params: Vec<V> = args
            .into_iter()
            .map(|a| match a {
                Arg::Null => V::Null,
                Arg::Int(n) => V::Integer(n),
                Arg::Text(t) => V::Text(t),
            })
            .collect();
        let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let mut obj = serde_json::Map::new();
            for (i, name) in names.iter().enumerate() {
                let v = match row.get_ref(i).map_err(err)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::from(n),
                    ValueRef::Real(f) => Value::from(f),
                    ValueRef::Text(t) | ValueRef::Blob(t) => Value::from(String::from_utf8_lossy(t).into_owned()),
                };
                obj.insert(name.clone(), v);
            }
            out.push(Value::Object(obj));
        }
        Ok(out)
    }
}

/// The operation and its answer go through JSON, as they do to the Durable Object, so native
/// tests exercise the wire format too.
impl Pool for &MemoryPool {
    async fn call<T: DeserializeOwned>(&self, op: &Op) -> StoreResult<T> {
        let wire = serde_json::to_string(op).map_err(|e| StoreError(e.to_string()))?;
        let op: Op = serde_json::from_str(&wire).map_err(|e| StoreError(format!("bad pool request: {e}")))?;
        let answer = serde_json::to_string(&store::apply(*self, op)?).map_err(|e| StoreError(e.to_string()))?;
        serde_json::from_str(&answer).map_err(|e| StoreError(format!("pool: {e}")))
    }
}

/// Answers outgoing requests from a table of URL → (status, headers, body); anything else is
/// a connection error. Every request is recorded.
#[derive(Debug, Default)]
pub struct MemoryHttp {
    pub routes: RefCell<BTreeMap<String, Answer>>,
    pub sent: RefCell<Vec<OutRequest>>,
    /// Virtual time: moves only when the app sleeps.
    pub clock: Cell<u64>,
}

impl Http for &MemoryHttp {
    async fn send(&self, req: OutRequest, max_bytes: u64) -> Result<OutResponse, UpstreamError> {
        self.sent.borrow_mut().push(req.clone());
        let routes = self.routes.borrow();
        let (status, headers, body) = routes.get(&req.url).ok_or_else(|| UpstreamError::Unreachable(format!("cannot connect to {}", req.url)))?;
        if body.len() as u64 > max_bytes {
            return Err(UpstreamError::TooLarge);
        }
        Ok(OutResponse { status: *status, headers: headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(), body: body.clone() })
    }
    async fn sleep(&self, ms: u64) {
        self.clock.set(self.clock.get() + ms);
    }
    fn now_ms(&self) -> u64 {
        self.clock.get()
    }
}

/// An object's bytes and custom metadata.
pub type Object = (Vec<u8>, Vec<(String, String)>);

/// A canned answer: status, headers, body.
pub type Answer = (u16, Vec<(String, String)>, Vec<u8>);

#[derive(Debug, Default)]
pub struct MemoryBlobs {
    pub objects: RefCell<BTreeMap<String, Object>>,
    /// When each object was written, by `clock`.
    pub written: RefCell<BTreeMap<String, u64>>,
    pub clock: Cell<u64>,
    /// When set, every call fails: for testing that outages lose nothing.
    pub broken: Cell<bool>,
}

impl MemoryBlobs {
    fn check(&self) -> StoreResult<()> {
        if self.broken.get() {
            Err(StoreError("memory blobs are switched off".into()))
        } else {
            Ok(())
        }
    }
}

impl Blobs for MemoryBlobs {
    async fn put(&self, key: &str, bytes: Vec<u8>, _content_type: &str, custom: &[(&str, &str)]) -> StoreResult<()> {
        self.check()?;
        let custom = custom.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.objects.borrow_mut().insert(key.to_string(), (bytes, custom));
        self.written.borrow_mut().insert(key.to_string(), self.clock.get());
        Ok(())
    }
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> StoreResult<Option<Blob>> {
        self.check()?;
        Ok(self.objects.borrow().get(key).map(|(bytes, custom)| {
            let size = bytes.len() as u64;
            let bytes = match range {
                Some((offset, len)) => bytes[offset as usize..(offset + len) as usize].to_vec(),
                None => bytes.clone(),
            };
            Blob { body: crate::http::Stream(bytes), size, custom: custom.clone() }
        }))
    }
    async fn head(&self, key: &str) -> StoreResult<Option<Vec<(String, String)>>> {
        self.check()?;
        Ok(self.objects.borrow().get(key).map(|(_, custom)| custom.clone()))
    }
    async fn delete(&self, key: &str) -> StoreResult<()> {
        self.check()?;
        self.objects.borrow_mut().remove(key);
        Ok(())
    }
    async fn list(&self, prefix: &str, after: Option<&str>, limit: u32) -> StoreResult<Vec<Listed>> {
        self.check()?;
        let written = self.written.borrow();
        Ok(self
            .objects
            .borrow()
            .iter()
            .filter(|(k, _)| k.starts_with(prefix) && after.is_none_or(|a| k.as_str() > a))
            .take(limit as usize)
            .map(|(k, (_, custom))| Listed {
                key: k.clone(),
                uploaded_ms: written.get(k).copied().unwrap_or(0),
                id: custom.iter().find(|(n, _)| n == "id").map(|(_, v)| v.clone()),
            })
            .collect())
    }
}

#[derive(Debug, Default)]
pub struct MemoryKv {
    pub entries: RefCell<BTreeMap<String, String>>,
    /// When set, writes fail (reads still work, as when KV's write limit is reached).
    pub writes_broken: Cell<bool>,
    /// When set, this many more writes succeed and the next one fails (a passing fault).
    pub writes_left: Cell<Option<u32>>,
}

impl MemoryKv {
    fn check_write(&self) -> StoreResult<()> {
        if let Some(n) = self.writes_left.get() {
            self.writes_left.set(n.checked_sub(1));
            if n == 0 {
                return Err(StoreError("SQLITE_BUSY: a passing fault".into()));
            }
        }
        if self.writes_broken.get() {
            Err(StoreError("SQLITE_CONSTRAINT: memory KV writes are switched off".into()))
        } else {
            Ok(())
        }
    }
}

impl Kv for MemoryKv {
    async fn get(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(self.entries.borrow().get(key).cloned())
    }
    async fn put(&self, key: &str, value: &str) -> StoreResult<()> {
        self.check_write()?;
        self.entries.borrow_mut().insert(key.to_string(), value.to_string());
        Ok(())
    }
    async fn delete(&self, key: &str) -> StoreResult<()> {
        self.check_write()?;
        self.entries.borrow_mut().remove(key);
        Ok(())
    }
    async fn list(&self, prefix: &str, cursor: Option<&str>, limit: u32) -> StoreResult<(Vec<String>, Option<String>)> {
        // The cursor is the last key of the previous page.
        let entries = self.entries.borrow();
        let keys: Vec<String> =
            entries.keys().filter(|k| k.starts_with(prefix) && cursor.is_none_or(|c| k.as_str() > c)).take(limit as usize + 1).cloned().collect();
        let more = keys.len() > limit as usize;
        let page: Vec<String> = keys.into_iter().take(limit as usize).collect();
        let next = if more { page.last().cloned() } else { None };
        Ok((page, next))
    }
}
