//! [`Blobs`] over an R2 bucket binding.

use crate::http::Stream;
use crate::storage::{Blob, Blobs, Listed, StoreError, StoreResult};
use std::collections::HashMap;
use worker::{Bucket, HttpMetadata, Include, Range, ResponseBody};

pub struct R2(pub Bucket);

fn err(e: worker::Error) -> StoreError {
    StoreError(format!("R2: {e}"))
}

impl Blobs for R2 {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str, custom: &[(&str, &str)]) -> StoreResult<()> {
        let custom: HashMap<String, String> = custom.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let http = HttpMetadata { content_type: Some(content_type.to_string()), ..Default::default() };
        self.0.put(key, bytes).http_metadata(http).custom_metadata(custom).execute().await.map_err(err)?;
        Ok(())
    }

    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> StoreResult<Option<Blob>> {
        let mut get = self.0.get(key);
        if let Some((offset, length)) = range {
            get = get.range(Range::OffsetWithLength { offset, length });
        }
        let Some(object) = get.execute().await.map_err(err)? else { return Ok(None) };
        // `Object::range()` panics in workers-rs 0.8, so the caller computes ranges itself.
        let size = object.size();
        let body = object.body().ok_or_else(|| StoreError(format!("R2: object {key} has no body")))?;
        // The runtime's own stream: served without passing through wasm memory.
        match body.response_body().map_err(err)? {
            ResponseBody::Stream(s) => Ok(Some(Blob { body: Stream(s), size })),
            ResponseBody::Body(bytes) => Ok(Some(Blob { body: Stream::from_bytes(bytes).map_err(StoreError)?, size })),
            ResponseBody::Empty => Ok(Some(Blob { body: Stream::from_bytes(Vec::new()).map_err(StoreError)?, size })),
        }
    }

    async fn head(&self, key: &str) -> StoreResult<Option<Vec<(String, String)>>> {
        match self.0.head(key).await.map_err(err)? {
            None => Ok(None),
            Some(object) => Ok(Some(object.custom_metadata().map_err(err)?.into_iter().collect())),
        }
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        self.0.delete(key).await.map_err(err)
    }

    async fn list(&self, prefix: &str, after: Option<&str>, limit: u32) -> StoreResult<Vec<Listed>> {
        let mut list = self.0.list().prefix(prefix).limit(limit).include(vec![Include::CustomMetadata]);
        if let Some(after) = after {
            list = list.start_after(after);
        }
        let objects = list.execute().await.map_err(err)?;
        Ok(objects
            .objects()
            .iter()
            .map(|o| Listed { key: o.key(), uploaded_ms: o.uploaded().as_millis(), id: o.custom_metadata().ok().and_then(|mut m| m.remove("id")) })
            .collect())
    }
}
