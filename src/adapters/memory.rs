//! An in-memory platform for native tests of the whole application: storage that can be
//! inspected and switched off, and canned answers for outgoing HTTP.

use crate::app::Platform;
use crate::index::catalog::{self, Arg, Batch, Indexed, Page, Query, Sql, Usage};
use crate::index::leases::{self, Claim};
use crate::index::pools::{self, PoolEntry, PoolTable};
use crate::platform::faults::Faulty;
use crate::platform::rate::{Limit, RateLimiter};
use crate::platform::upstream::{Http, OutRequest, OutResponse, UpstreamError};
use crate::platform::{Blob, Blobs, EdgeCache, Images, ImagesError, Kv, Listed, Pool, StoreError, StoreResult};
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
    async fn transform(&self, _: crate::http::Stream, _: &str, _: &crate::transform::engine::Spec) -> Result<Vec<u8>, ImagesError> {
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

/// The pool rows in maps; the pool logic itself is [`crate::index::pools`]'s, shared with the
/// Durable Object.
pub struct MemoryPool {
    db: RefCell<rusqlite::Connection>,
    /// When set, index writes fail (a Durable Object that is down).
    pub broken: Cell<bool>,
    entries: RefCell<BTreeMap<String, PoolEntry>>,
    slots: RefCell<BTreeMap<(String, u64), String>>,
    counts: RefCell<BTreeMap<String, u64>>,
    variants: RefCell<std::collections::BTreeSet<(String, String)>>,
    leases: RefCell<BTreeMap<String, (u64, Option<String>)>>,
    days: RefCell<BTreeMap<u64, u64>>,
}

impl Default for MemoryPool {
    fn default() -> Self {
        let db = rusqlite::Connection::open_in_memory().expect("in-memory SQLite");
        db.execute_batch(catalog::SCHEMA).expect("the catalog schema");
        MemoryPool {
            db: RefCell::new(db),
            broken: Cell::new(false),
            entries: Default::default(),
            slots: Default::default(),
            counts: Default::default(),
            variants: Default::default(),
            leases: Default::default(),
            days: Default::default(),
        }
    }
}

impl MemoryPool {
    fn fail(&self) -> StoreResult<()> {
        if self.broken.get() {
            return Err(StoreError("the pool store is down".into()));
        }
        Ok(())
    }

    /// Every id in the pools: for tests that check pools against records.
    pub fn ids(&self) -> Vec<String> {
        self.entries.borrow().keys().cloned().collect()
    }
}

impl PoolTable for MemoryPool {
    type Error = StoreError;
    fn entry(&self, id: &str) -> StoreResult<Option<PoolEntry>> {
        Ok(self.entries.borrow().get(id).cloned())
    }
    fn put_entry(&self, entry: &PoolEntry) -> StoreResult<()> {
        self.entries.borrow_mut().insert(entry.id.clone(), entry.clone());
        Ok(())
    }
    fn delete_entry(&self, id: &str) -> StoreResult<()> {
        self.entries.borrow_mut().remove(id);
        Ok(())
    }
    fn count(&self, pool: &str) -> StoreResult<u64> {
        Ok(self.counts.borrow().get(pool).copied().unwrap_or(0))
    }
    fn set_count(&self, pool: &str, n: u64) -> StoreResult<()> {
        self.counts.borrow_mut().insert(pool.to_string(), n);
        Ok(())
    }
    fn any_slot_of(&self, id: &str) -> StoreResult<Option<(String, u64)>> {
        Ok(self.slots.borrow().iter().find(|(_, v)| *v == id).map(|(k, _)| k.clone()))
    }
    fn id_at(&self, pool: &str, slot: u64) -> StoreResult<Option<String>> {
        Ok(self.slots.borrow().get(&(pool.to_string(), slot)).cloned())
    }
    fn insert_slot(&self, pool: &str, slot: u64, id: &str) -> StoreResult<()> {
        // The SQL table's primary key refuses a taken slot; so does this.
        match self.slots.borrow_mut().entry((pool.to_string(), slot)) {
            std::collections::btree_map::Entry::Occupied(_) => Err(StoreError(format!("slot {slot} of pool {pool} is taken"))),
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(id.to_string());
                Ok(())
            }
        }
    }
    fn delete_slot(&self, pool: &str, slot: u64) -> StoreResult<()> {
        self.slots.borrow_mut().remove(&(pool.to_string(), slot));
        Ok(())
    }
    fn move_slot(&self, pool: &str, from: u64, to: u64) -> StoreResult<()> {
        let id = self.slots.borrow_mut().remove(&(pool.to_string(), from));
        match id {
            Some(id) => self.insert_slot(pool, to, &id),
            None => Ok(()),
        }
    }
    fn variant_count(&self, id: &str) -> StoreResult<u64> {
        Ok(self.variants.borrow().iter().filter(|(i, _)| i == id).count() as u64)
    }
    fn has_variant(&self, id: &str, key: &str) -> StoreResult<bool> {
        Ok(self.variants.borrow().contains(&(id.to_string(), key.to_string())))
    }
    fn insert_variant(&self, id: &str, key: &str) -> StoreResult<()> {
        self.variants.borrow_mut().insert((id.to_string(), key.to_string()));
        Ok(())
    }
    fn delete_variant(&self, id: &str, key: &str) -> StoreResult<()> {
        self.variants.borrow_mut().remove(&(id.to_string(), key.to_string()));
        Ok(())
    }
    fn delete_variants(&self, id: &str) -> StoreResult<()> {
        self.variants.borrow_mut().retain(|(i, _)| i != id);
        Ok(())
    }
    fn lease(&self, key: &str) -> StoreResult<Option<(u64, Option<String>)>> {
        Ok(self.leases.borrow().get(key).cloned())
    }
    fn set_lease(&self, key: &str, until: u64, id: Option<&str>) -> StoreResult<()> {
        self.leases.borrow_mut().insert(key.to_string(), (until, id.map(str::to_string)));
        Ok(())
    }
    fn delete_lease(&self, key: &str) -> StoreResult<()> {
        self.leases.borrow_mut().remove(key);
        Ok(())
    }
    fn day_count(&self, day: u64) -> StoreResult<u64> {
        Ok(self.days.borrow().get(&day).copied().unwrap_or(0))
    }
    fn set_day_count(&self, day: u64, n: u64) -> StoreResult<()> {
        self.days.borrow_mut().insert(day, n);
        Ok(())
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

impl Pool for &MemoryPool {
    async fn index(&self, items: &[Indexed]) -> StoreResult<()> {
        self.fail()?;
        catalog::index(*self, items)
    }
    async fn unindex(&self, id: &str) -> StoreResult<Vec<String>> {
        self.fail()?;
        catalog::unindex(*self, id)
    }
    async fn rebuild(&self, batch: &Batch) -> StoreResult<u64> {
        catalog::rebuild(*self, batch)
    }
    async fn remember_edge(&self, id: &str, key: &str) -> StoreResult<()> {
        catalog::remember_edge_key(*self, id, key)
    }
    async fn list(&self, query: &Query) -> StoreResult<Page> {
        catalog::list(*self, query)
    }
    async fn find(&self, sha256: &str, except: Option<&str>, owner: Option<&str>) -> StoreResult<Option<String>> {
        catalog::find_sha(*self, sha256, except, owner)
    }
    async fn stats(&self, now_ms: u64) -> StoreResult<Value> {
        catalog::stats(*self, now_ms)
    }
    async fn login_attempt(&self, ip: &str, now_ms: u64, ok: bool) -> StoreResult<Result<(), u64>> {
        catalog::login_attempt(*self, ip, now_ms, ok)
    }
    async fn charge(&self, who: &str, day: u64, add: Usage, quota: Usage) -> StoreResult<Result<Usage, Usage>> {
        catalog::charge(*self, who, day, add, quota)
    }
    async fn refund(&self, who: &str, day: u64, back: Usage) -> StoreResult<()> {
        catalog::refund(*self, who, day, back)
    }
    async fn session_start(&self, nonce: &str, until_ms: u64, now_ms: u64) -> StoreResult<()> {
        catalog::session_start(*self, nonce, until_ms, now_ms)
    }
    async fn session_live(&self, nonce: &str, now_ms: u64) -> StoreResult<bool> {
        catalog::session_live(*self, nonce, now_ms)
    }
    async fn token_use(&self, id: &str, now_ms: u64) -> StoreResult<bool> {
        catalog::token_use(*self, id, now_ms)
    }
    async fn token_revoke(&self, id: &str) -> StoreResult<()> {
        catalog::token_revoke(*self, id)
    }
    async fn token_uses(&self) -> StoreResult<Vec<(String, u64)>> {
        catalog::token_uses(*self)
    }
    async fn session_end(&self, nonce: &str) -> StoreResult<()> {
        catalog::session_end(*self, nonce)
    }
    async fn pick(&self, pool: &str, number: u64) -> StoreResult<Option<PoolEntry>> {
        pools::pool_pick(*self, pool, number)
    }
    async fn count(&self, pool: &str) -> StoreResult<u64> {
        PoolTable::count(*self, pool)
    }
    async fn reserve_variant(&self, id: &str, key: &str, cap: u64) -> StoreResult<bool> {
        pools::variant_reserve(*self, id, key, cap)
    }
    async fn release_variant(&self, id: &str, key: &str) -> StoreResult<()> {
        self.delete_variant(id, key)
    }
    async fn claim_generation(&self, key: &str, now_ms: u64, lease_ms: u64, daily_limit: u64, replace: bool) -> StoreResult<Claim> {
        leases::claim(*self, key, now_ms, lease_ms, daily_limit, replace)
    }
    async fn settle_generation(&self, key: &str, id: Option<&str>) -> StoreResult<()> {
        leases::settle(*self, key, id)
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
