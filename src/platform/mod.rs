//! Storage behind small traits: [`Blobs`] for image bytes (R2), [`Kv`] for metadata
//! (Workers KV) and [`Pool`] for the random-image pools (a SQLite Durable Object). The Worker implements them over its bindings (`adapters::worker`); [`crate::adapters::memory`] implements
//! them in memory for native tests. [`Counted`] wraps either and counts every operation, so the
//! cost of each request is visible in the `X-Storage-Ops` header and can be asserted in tests.

pub mod faults;
pub mod rate;
pub mod upstream;

use crate::base::error::ApiError;
use crate::index::catalog::{Batch, Indexed, Page, Query, Usage};
use crate::index::leases::Claim;
use crate::index::pools::PoolEntry;
use crate::index::store::Op;
use serde::de::DeserializeOwned;
use std::cell::Cell;
use std::rc::Rc;

/// A storage backend failed; the client's request was fine, so this is a 503.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

const TIMED_OUT: &str = "timed out: ";

impl StoreError {
    /// A call that got no answer in time.
    pub fn timed_out(what: &str) -> StoreError {
        StoreError(format!("{TIMED_OUT}{what}"))
    }
}

impl From<String> for StoreError {
    fn from(message: String) -> StoreError {
        StoreError(message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        // What failed goes to the log; clients learn only that it was storage, and to retry.
        crate::base::log::error(&format!("storage: {}", e.0));
        if e.0.starts_with(TIMED_OUT) {
            return ApiError::new(504, "storage_timeout", "storage did not answer in time: try again in a moment").with_retry_after(5);
        }
        ApiError::new(503, "storage_unavailable", "storage is unavailable right now: try again in a moment").with_retry_after(5)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// An object's bytes (or the requested slice of them), as a stream, its full size and its
/// custom metadata.
#[derive(Debug, Clone)]
pub struct Blob {
    pub body: crate::http::Stream,
    pub size: u64,
    pub custom: Vec<(String, String)>,
}

/// An object in a listing: its key, when it was written, and the image id it was stored for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub uploaded_ms: u64,
    pub id: Option<String>,
}

/// Object storage: R2 in production.
#[allow(async_fn_in_trait)] // Workers are single-threaded: no Send bounds wanted.
pub trait Blobs {
    /// Stores an object; `custom` becomes R2 custom metadata.
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str, custom: &[(&str, &str)]) -> StoreResult<()>;
    /// The whole object, or `len` bytes from `offset` when a range is given.
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> StoreResult<Option<Blob>>;
    /// Custom metadata of an object, without its bytes.
    async fn head(&self, key: &str) -> StoreResult<Option<Vec<(String, String)>>>;
    async fn delete(&self, key: &str) -> StoreResult<()>;
    /// Up to `limit` objects under `prefix` whose keys come after `after`, in key order.
    async fn list(&self, prefix: &str, after: Option<&str>, limit: u32) -> StoreResult<Vec<Listed>>;
}

/// Key-value storage: Workers KV in production.
#[allow(async_fn_in_trait)]
pub trait Kv {
    async fn get(&self, key: &str) -> StoreResult<Option<String>>;
    async fn put(&self, key: &str, value: &str) -> StoreResult<()>;
    async fn delete(&self, key: &str) -> StoreResult<()>;
    /// A page of keys under `prefix` and the cursor of the next page, if any.
    async fn list(&self, prefix: &str, cursor: Option<&str>, limit: u32) -> StoreResult<(Vec<String>, Option<String>)>;
}

/// The index store (one SQLite Durable Object): the random pools (see [`crate::index::pools`]), the
/// admin catalog (see [`crate::index::catalog`]), variant reservations, generation leases, admin
/// sessions and login counters. Each call is one transaction of the store.
#[allow(async_fn_in_trait)]
pub trait Pool {
    /// One operation of the store (see [`crate::index::store`]), its answer read as `T`: the
    /// only method an implementation or a wrapper writes; the typed calls below use it.
    async fn call<T: DeserializeOwned>(&self, op: &Op) -> StoreResult<T>;

    /// Writes images' catalog rows and, in the same step, sets their pool membership (an entry
    /// and the pools it belongs to; `None` takes an image out of every pool). Answers which of
    /// their albums are private or unmarked: their records must say so (see
    /// [`crate::index::albums`]).
    async fn index(&self, items: &[Indexed]) -> StoreResult<crate::index::albums::Flags> {
        self.call(&Op::Index { items: items.to_vec() }).await
    }
    /// Takes an image out of the catalog, every pool and its variant reservations; returns the
    /// edge-cache keys remembered for it, for purging.
    async fn unindex(&self, id: &str) -> StoreResult<Vec<String>> {
        self.call(&Op::Unindex { id: id.into() }).await
    }
    /// One batch of a rebuild from KV (see [`crate::index::catalog::rebuild`]); returns how many
    /// images the last batch removed.
    async fn rebuild(&self, batch: &Batch) -> StoreResult<u64> {
        self.call(&Op::Rebuild { batch: Box::new(batch.clone()) }).await
    }
    /// The image in slot `number % n` of a pool of `n`, or `None` when it is empty.
    async fn pick(&self, pool: &str, number: u64) -> StoreResult<Option<PoolEntry>> {
        self.call(&Op::Pick { pool: pool.into(), number }).await
    }
    /// Up to `k` different images of a pool, in one call (see [`crate::index::pools::pool_pick_run`]).
    async fn pick_run(&self, pool: &str, number: u64, k: u64) -> StoreResult<Vec<PoolEntry>> {
        self.call(&Op::PickRun { pool: pool.into(), number, k }).await
    }
    async fn count(&self, pool: &str) -> StoreResult<u64> {
        self.call(&Op::Count { pool: pool.into() }).await
    }
    /// Reserves variant `key` of image `id` unless the image has `cap` variants already
    /// (atomically: see [`crate::index::pools::variant_reserve`]); true when it may be made.
    async fn reserve_variant(&self, id: &str, key: &str, cap: u64) -> StoreResult<bool> {
        self.call(&Op::Reserve { id: id.into(), key: key.into(), cap }).await
    }
    /// Gives back a reservation whose variant could not be made.
    async fn release_variant(&self, id: &str, key: &str) -> StoreResult<()> {
        self.call(&Op::Release { id: id.into(), key: key.into() }).await
    }
    /// Notes that an answer for image `id` went into the edge cache under `key`.
    async fn remember_edge(&self, id: &str, key: &str) -> StoreResult<()> {
        self.call(&Op::Edge { id: id.into(), key: key.into() }).await
    }
    /// Asks to generate the placeholder `key` (see [`crate::index::leases::claim`]).
    async fn claim_generation(&self, key: &str, now_ms: u64, lease_ms: u64, daily_limit: u64, replace: bool) -> StoreResult<Claim> {
        self.call(&Op::Claim { key: key.into(), now_ms, lease_ms, daily_limit, replace }).await
    }
    /// Ends a claimed generation: with the image it made, or none (the lease is dropped).
    async fn settle_generation(&self, key: &str, id: Option<&str>) -> StoreResult<()> {
        self.call(&Op::Settle { key: key.into(), id: id.map(str::to_string) }).await
    }
    /// A page of the catalog.
    async fn list(&self, query: &Query) -> StoreResult<Page> {
        self.call(&Op::List { query: Box::new(query.clone()) }).await
    }
    /// The id of an image with these bytes other than `except` (and of `owner`), if any (see
    /// [`crate::index::catalog::find_sha`]).
    async fn find(&self, sha256: &str, except: Option<&str>, owner: Option<&str>) -> StoreResult<Option<String>> {
        self.call(&Op::Find { sha256: sha256.into(), except: except.map(str::to_string), owner: owner.map(str::to_string) }).await
    }
    /// Counts for the console (see [`crate::index::catalog::stats`]).
    async fn stats(&self, now_ms: u64) -> StoreResult<serde_json::Value> {
        self.call(&Op::Stats { now_ms }).await
    }
    /// Records a login attempt (see [`crate::index::catalog::login_attempt`]).
    async fn login_attempt(&self, ip: &str, now_ms: u64, ok: bool) -> StoreResult<Result<(), u64>> {
        self.call(&Op::Login { ip: ip.into(), now_ms, ok }).await
    }
    /// Counts uploads against a daily quota (see [`crate::index::catalog::charge`]).
    async fn charge(&self, who: &str, day: u64, add: Usage, quota: Usage) -> StoreResult<Result<Usage, Usage>> {
        self.call(&Op::Charge { who: who.into(), day, add, quota }).await
    }
    async fn refund(&self, who: &str, day: u64, back: Usage) -> StoreResult<()> {
        self.call(&Op::Refund { who: who.into(), day, back }).await
    }
    async fn session_start(&self, nonce: &str, until_ms: u64, now_ms: u64) -> StoreResult<()> {
        self.call(&Op::SessionStart { nonce: nonce.into(), until_ms, now_ms }).await
    }
    async fn session_live(&self, nonce: &str, now_ms: u64) -> StoreResult<bool> {
        self.call(&Op::SessionLive { nonce: nonce.into(), now_ms }).await
    }
    async fn session_end(&self, nonce: &str) -> StoreResult<()> {
        self.call(&Op::SessionEnd { nonce: nonce.into() }).await
    }
    /// Notes a token's use; false when revoked (see [`crate::index::catalog::token_use`]).
    async fn token_use(&self, id: &str, now_ms: u64) -> StoreResult<bool> {
        self.call(&Op::TokenUse { id: id.into(), now_ms }).await
    }
    async fn token_revoke(&self, id: &str) -> StoreResult<()> {
        self.call(&Op::TokenRevoke { id: id.into() }).await
    }
    async fn token_uses(&self) -> StoreResult<Vec<(String, u64)>> {
        self.call(&Op::TokenUses).await
    }
    /// The drive's folders (see [`crate::index::drive`]); `owner` limits them to a token's own.
    async fn folders(&self, owner: Option<&str>) -> StoreResult<Vec<crate::index::drive::Folder>> {
        self.call(&Op::Folders { owner: owner.map(str::to_string) }).await
    }
    async fn folder_exists(&self, name: &str, owner: Option<&str>) -> StoreResult<bool> {
        self.call(&Op::FolderExists { name: name.into(), owner: owner.map(str::to_string) }).await
    }
    async fn make_folder(&self, name: &str, owner: Option<&str>, now_ms: u64) -> StoreResult<bool> {
        self.call(&Op::MakeFolder { name: name.into(), owner: owner.map(str::to_string), now_ms }).await
    }
    async fn remove_folder(&self, name: &str) -> StoreResult<bool> {
        self.call(&Op::RemoveFolder { name: name.into() }).await
    }
    async fn files(&self, album: Option<&str>, owner: Option<&str>, after: Option<(u64, String)>, limit: u32) -> StoreResult<Vec<crate::index::drive::Entry>> {
        self.call(&Op::Files { album: album.map(str::to_string), owner: owner.map(str::to_string), after, limit }).await
    }
    async fn named(&self, album: Option<&str>, name: &str, owner: Option<&str>) -> StoreResult<Vec<crate::index::drive::Entry>> {
        self.call(&Op::Named { album: album.map(str::to_string), name: name.into(), owner: owner.map(str::to_string) }).await
    }
    /// Notes one picture of an album sent to the bot (see [`crate::index::catalog::group_add`]).
    async fn group_add(&self, group: &str, text: &str, now_ms: u64) -> StoreResult<crate::index::catalog::GroupReply> {
        self.call(&Op::GroupAdd { group: group.into(), text: text.into(), now_ms }).await
    }
    async fn group_sent(&self, group: &str, message_id: i64) -> StoreResult<Vec<String>> {
        self.call(&Op::GroupSent { group: group.into(), message_id }).await
    }
    /// Every album with its settings and image count; with `public_only`, the gallery's.
    async fn albums(&self, public_only: bool) -> StoreResult<Vec<crate::index::albums::Album>> {
        self.call(&Op::Albums { public_only }).await
    }
    async fn album(&self, name: &str) -> StoreResult<crate::index::albums::Settings> {
        self.call(&Op::Album { name: name.into() }).await
    }
    async fn set_album(&self, name: &str, settings: &crate::index::albums::Settings, now_ms: u64) -> StoreResult<()> {
        self.call(&Op::SetAlbum { name: name.into(), settings: settings.clone(), now_ms }).await
    }
    /// Whether a Telegram update is seen for the first time (see [`crate::index::catalog::first_update`]).
    async fn first_update(&self, update_id: u64, now_ms: u64) -> StoreResult<bool> {
        self.call(&Op::FirstUpdate { update_id, now_ms }).await
    }
}

/// Why Cloudflare Images made no variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImagesError {
    /// The source did not match its record's SHA-256: storage answered with something else.
    Garbled,
    /// The binding refused or failed (an unreadable source, the month's allowance used up, an
    /// outage): the text is for logs only.
    Failed(String),
}

/// Cloudflare Images through the `[images]` binding: transforms outside the isolate.
#[allow(async_fn_in_trait)]
pub trait Images {
    /// Whether a binding is configured at all.
    fn bound(&self) -> bool;
    /// Transforms the image streaming in from `input`, which must hash to `expect` when given
    /// (checked as it passes), and returns the output's bytes.
    async fn transform(&self, input: crate::http::Stream, expect: Option<&str>, spec: &crate::transform::engine::Spec) -> Result<Vec<u8>, ImagesError>;
}

/// This location's HTTP cache (the Cache API): free, per data centre, and keyed by whatever the
/// caller says. Only answers that anyone may see go in, and only after the record was read, so
/// a deleted or blocked image is never served from it.
#[allow(async_fn_in_trait)]
pub trait EdgeCache {
    async fn get(&self, key: &str) -> Option<crate::http::Response>;
    async fn put(&self, key: &str, resp: &crate::http::Response);
    /// Drops an entry; true when there was one.
    async fn delete(&self, key: &str) -> bool;
}

/// Operation counts for one request, by billing class.
#[derive(Debug, Default)]
pub struct Ops {
    pub kv_read: Cell<u32>,
    pub kv_write: Cell<u32>,
    pub kv_list: Cell<u32>,
    pub r2_read: Cell<u32>,
    pub r2_write: Cell<u32>,
    /// Billed as class A, like writes.
    pub r2_list: Cell<u32>,
    /// Requests to the pool Durable Object.
    pub pool: Cell<u32>,
}

impl Ops {
    fn bump(c: &Cell<u32>) {
        c.set(c.get() + 1);
    }

    /// `kv-read=1, r2-read=1`: only the classes that were used.
    pub fn header(&self) -> String {
        [
            ("kv-read", &self.kv_read),
            ("kv-write", &self.kv_write),
            ("kv-list", &self.kv_list),
            ("r2-read", &self.r2_read),
            ("r2-write", &self.r2_write),
            ("r2-list", &self.r2_list),
            ("pool", &self.pool),
        ]
        .iter()
        .filter(|(_, c)| c.get() > 0)
        .map(|(n, c)| format!("{n}={}", c.get()))
        .collect::<Vec<_>>()
        .join(", ")
    }
}

/// A backend that counts what it is asked to do.
pub struct Counted<T> {
    inner: T,
    ops: Rc<Ops>,
}

impl<T> Counted<T> {
    pub fn new(inner: T, ops: Rc<Ops>) -> Self {
        Counted { inner, ops }
    }
}

impl<T: Blobs> Blobs for Counted<T> {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str, custom: &[(&str, &str)]) -> StoreResult<()> {
        Ops::bump(&self.ops.r2_write);
        self.inner.put(key, bytes, content_type, custom).await
    }
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> StoreResult<Option<Blob>> {
        Ops::bump(&self.ops.r2_read);
        self.inner.get(key, range).await
    }
    async fn head(&self, key: &str) -> StoreResult<Option<Vec<(String, String)>>> {
        Ops::bump(&self.ops.r2_read);
        self.inner.head(key).await
    }
    async fn delete(&self, key: &str) -> StoreResult<()> {
        Ops::bump(&self.ops.r2_write);
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str, after: Option<&str>, limit: u32) -> StoreResult<Vec<Listed>> {
        Ops::bump(&self.ops.r2_list);
        self.inner.list(prefix, after, limit).await
    }
}

impl<T: Kv> Kv for Counted<T> {
    async fn get(&self, key: &str) -> StoreResult<Option<String>> {
        Ops::bump(&self.ops.kv_read);
        self.inner.get(key).await
    }
    async fn put(&self, key: &str, value: &str) -> StoreResult<()> {
        Ops::bump(&self.ops.kv_write);
        self.inner.put(key, value).await
    }
    async fn delete(&self, key: &str) -> StoreResult<()> {
        Ops::bump(&self.ops.kv_write);
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str, cursor: Option<&str>, limit: u32) -> StoreResult<(Vec<String>, Option<String>)> {
        Ops::bump(&self.ops.kv_list);
        self.inner.list(prefix, cursor, limit).await
    }
}

/// Every call is one request to the Durable Object.
impl<T: Pool> Pool for Counted<T> {
    async fn call<R: DeserializeOwned>(&self, op: &Op) -> StoreResult<R> {
        Ops::bump(&self.ops.pool);
        self.inner.call(op).await
    }
}

// Borrowed backends work too, so tests can keep and inspect the stores they hand to the app.
impl<T: Blobs> Blobs for &T {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str, custom: &[(&str, &str)]) -> StoreResult<()> {
        (**self).put(key, bytes, content_type, custom).await
    }
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> StoreResult<Option<Blob>> {
        (**self).get(key, range).await
    }
    async fn head(&self, key: &str) -> StoreResult<Option<Vec<(String, String)>>> {
        (**self).head(key).await
    }
    async fn delete(&self, key: &str) -> StoreResult<()> {
        (**self).delete(key).await
    }
    async fn list(&self, prefix: &str, after: Option<&str>, limit: u32) -> StoreResult<Vec<Listed>> {
        (**self).list(prefix, after, limit).await
    }
}

impl<T: Kv> Kv for &T {
    async fn get(&self, key: &str) -> StoreResult<Option<String>> {
        (**self).get(key).await
    }
    async fn put(&self, key: &str, value: &str) -> StoreResult<()> {
        (**self).put(key, value).await
    }
    async fn delete(&self, key: &str) -> StoreResult<()> {
        (**self).delete(key).await
    }
    async fn list(&self, prefix: &str, cursor: Option<&str>, limit: u32) -> StoreResult<(Vec<String>, Option<String>)> {
        (**self).list(prefix, cursor, limit).await
    }
}
