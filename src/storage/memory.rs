//! In-memory [`Blobs`] and [`Kv`] for native tests of the whole application.

use super::{Blob, Blobs, Kv, StoreError, StoreResult};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

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
}
