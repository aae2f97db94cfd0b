//! An in-memory platform for native tests of the whole application: storage that can be
//! inspected and switched off, and canned answers for outgoing HTTP.

use crate::app::Platform;
use crate::http::Headers;
use crate::random::PoolEntry;
use crate::storage::{Blob, Blobs, Kv, Pool, StoreError, StoreResult};
use crate::upstream::{Http, OutRequest, OutResponse, UpstreamError};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

/// Borrows its parts, so a test keeps them to look inside after each request.
pub struct MemoryPlatform<'a>(std::marker::PhantomData<&'a ()>);

impl<'a> Platform for MemoryPlatform<'a> {
    type Blobs = &'a MemoryBlobs;
    type Kv = &'a MemoryKv;
    type Pool = &'a MemoryPool;
    type Http = &'a MemoryHttp;
}

/// The pools as vectors of ids, with the same swap-remove the Durable Object does.
#[derive(Debug, Default)]
pub struct MemoryPool {
    pub pools: RefCell<BTreeMap<String, Vec<String>>>,
    pub entries: RefCell<BTreeMap<String, (PoolEntry, Vec<String>)>>,
}

impl Pool for &MemoryPool {
    async fn add(&self, entry: &PoolEntry, pools: &[String]) -> StoreResult<()> {
        if self.entries.borrow().contains_key(&entry.id) {
            return Ok(());
        }
        for p in pools {
            self.pools.borrow_mut().entry(p.clone()).or_default().push(entry.id.clone());
        }
        self.entries.borrow_mut().insert(entry.id.clone(), (entry.clone(), pools.to_vec()));
        Ok(())
    }
    async fn remove(&self, id: &str) -> StoreResult<()> {
        let Some((_, pools)) = self.entries.borrow_mut().remove(id) else { return Ok(()) };
        for p in pools {
            if let Some(ids) = self.pools.borrow_mut().get_mut(&p) {
                if let Some(at) = ids.iter().position(|x| x == id) {
                    ids.swap_remove(at);
                }
            }
        }
        Ok(())
    }
    async fn pick(&self, pool: &str, number: u64) -> StoreResult<Option<PoolEntry>> {
        let pools = self.pools.borrow();
        let Some(ids) = pools.get(pool).filter(|ids| !ids.is_empty()) else { return Ok(None) };
        let id = &ids[crate::random::slot(number, ids.len() as u64) as usize];
        Ok(self.entries.borrow().get(id).map(|(e, _)| e.clone()))
    }
    async fn count(&self, pool: &str) -> StoreResult<u64> {
        Ok(self.pools.borrow().get(pool).map_or(0, |ids| ids.len() as u64))
    }
}

/// Answers outgoing requests from a table of URL → (status, content type, body); anything
/// else is a connection error. Every request is recorded.
#[derive(Debug, Default)]
pub struct MemoryHttp {
    pub routes: RefCell<BTreeMap<String, (u16, String, Vec<u8>)>>,
    pub sent: RefCell<Vec<OutRequest>>,
}

impl Http for &MemoryHttp {
    async fn send(&self, req: OutRequest, max_bytes: u64) -> Result<OutResponse, UpstreamError> {
        self.sent.borrow_mut().push(req.clone());
        let routes = self.routes.borrow();
        let (status, content_type, body) = routes.get(&req.url).ok_or_else(|| UpstreamError(format!("cannot connect to {}", req.url)))?;
        if body.len() as u64 > max_bytes {
            return Err(UpstreamError(format!("the answer is larger than {max_bytes} bytes")));
        }
        let headers: Headers = [("content-type", content_type.as_str())].into_iter().collect();
        Ok(OutResponse { status: *status, headers, body: body.clone() })
    }
}

#[derive(Debug, Default)]
pub struct MemoryBlobs {
    pub objects: RefCell<BTreeMap<String, (Vec<u8>, Vec<(String, String)>)>>,
    /// When set, every call fails: for testing that outages lose nothing.
    pub broken: Cell<bool>,
}

impl MemoryBlobs {
    fn check(&self) -> StoreResult<()> {
        if self.broken.get() { Err(StoreError("memory blobs are switched off".into())) } else { Ok(()) }
    }
}

impl Blobs for MemoryBlobs {
    async fn put(&self, key: &str, bytes: Vec<u8>, _content_type: &str, custom: &[(&str, &str)]) -> StoreResult<()> {
        self.check()?;
        let custom = custom.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.objects.borrow_mut().insert(key.to_string(), (bytes, custom));
        Ok(())
    }
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> StoreResult<Option<Blob>> {
        self.check()?;
        Ok(self.objects.borrow().get(key).map(|(bytes, _)| {
            let size = bytes.len() as u64;
            let bytes = match range {
                Some((offset, len)) => bytes[offset as usize..(offset + len) as usize].to_vec(),
                None => bytes.clone(),
            };
            Blob { bytes, size }
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
    async fn list(&self, prefix: &str, limit: u32) -> StoreResult<Vec<String>> {
        self.check()?;
        Ok(self.objects.borrow().keys().filter(|k| k.starts_with(prefix)).take(limit as usize).cloned().collect())
    }
}

#[derive(Debug, Default)]
pub struct MemoryKv {
    pub entries: RefCell<BTreeMap<String, String>>,
    /// When set, writes fail (reads still work, as when KV's write limit is reached).
    pub writes_broken: Cell<bool>,
}

impl MemoryKv {
    fn check_write(&self) -> StoreResult<()> {
        if self.writes_broken.get() { Err(StoreError("memory KV writes are switched off".into())) } else { Ok(()) }
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
        let keys: Vec<String> = entries
            .keys()
            .filter(|k| k.starts_with(prefix) && cursor.is_none_or(|c| k.as_str() > c))
            .take(limit as usize + 1)
            .cloned()
            .collect();
        let more = keys.len() > limit as usize;
        let page: Vec<String> = keys.into_iter().take(limit as usize).collect();
        let next = if more { page.last().cloned() } else { None };
        Ok((page, next))
    }
}
