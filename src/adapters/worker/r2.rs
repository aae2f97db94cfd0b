//! [`Blobs`] over an R2 bucket binding.

use crate::http::Stream;
use crate::platform::{Blob, Blobs, Listed, StoreError, StoreResult};
use worker::js_sys::{Object, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen::prelude::*;
use worker::wasm_bindgen::JsCast;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Bucket, Include, Range, ResponseBody};

/// The bucket through workers-rs, and the same binding as a plain JS object for `put`.
pub struct R2 {
    pub bucket: Bucket,
    raw: RawBucket,
}

impl R2 {
    pub fn from_env(env: &worker::Env, name: &str) -> worker::Result<R2> {
        let bucket = env.bucket(name)?;
        let raw = Reflect::get(env, &JsValue::from_str(name)).map_err(worker::Error::from)?.unchecked_into();
        Ok(R2 { bucket, raw })
    }
}

#[wasm_bindgen]
extern "C" {
    /// `R2Bucket.put` taking a view of the bytes: workers-rs's `put` copies a `Vec` into a new
    /// JS array first, a second whole copy of every upload.
    type RawBucket;
    #[wasm_bindgen(method, catch)]
    fn put(this: &RawBucket, key: &str, value: &Uint8Array, options: &Object) -> Result<Promise, JsValue>;
}

fn err(e: worker::Error) -> StoreError {
    StoreError(format!("R2: {e}"))
}

impl Blobs for R2 {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str, custom: &[(&str, &str)]) -> StoreResult<()> {
        let js_err = |e: JsValue| StoreError(format!("R2: {e:?}"));
        let object = |pairs: &[(&str, &JsValue)]| -> Result<Object, JsValue> {
            let o = Object::new();
            for (k, v) in pairs {
                Reflect::set(&o, &JsValue::from_str(k), v)?;
            }
            Ok(o)
        };
        let custom: Vec<(&str, JsValue)> = custom.iter().map(|(k, v)| (*k, JsValue::from_str(v))).collect();
        let custom = object(&custom.iter().map(|(k, v)| (*k, v)).collect::<Vec<_>>()).map_err(js_err)?;
        let http = object(&[("contentType", &JsValue::from_str(content_type))]).map_err(js_err)?;
        let options = object(&[("httpMetadata", &http.into()), ("customMetadata", &custom.into())]).map_err(js_err)?;
        // SAFETY: the runtime takes the bytes during this call (holding on to the memory they
        // are in), before anything can grow wasm memory; `bytes` outlives the whole put.
        let view = unsafe { Uint8Array::view(&bytes) };
        let started = self.raw.put(key, &view, &options).map_err(js_err)?;
        JsFuture::from(started).await.map_err(js_err)?;
        drop(bytes);
        Ok(())
    }

    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> StoreResult<Option<Blob>> {
        let mut get = self.bucket.get(key);
        if let Some((offset, length)) = range {
            get = get.range(Range::OffsetWithLength { offset, length });
        }
        let Some(object) = get.execute().await.map_err(err)? else {
            return Ok(None);
        };
        // `Object::range()` panics in workers-rs 0.8, so the caller computes ranges itself.
        let size = object.size();
        let body = object.body().ok_or_else(|| StoreError(format!("R2: object {key} has no body")))?;
        let custom = object.custom_metadata().map_err(err)?.into_iter().collect();
        // The runtime's own stream: served without passing through wasm memory.
        let body = match body.response_body().map_err(err)? {
            ResponseBody::Stream(s) => Stream(s),
            ResponseBody::Body(bytes) => Stream::from_bytes(bytes).map_err(StoreError)?,
            ResponseBody::Empty => Stream::from_bytes(Vec::new()).map_err(StoreError)?,
        };
        Ok(Some(Blob { body, size, custom }))
    }

    async fn head(&self, key: &str) -> StoreResult<Option<Vec<(String, String)>>> {
        match self.bucket.head(key).await.map_err(err)? {
            None => Ok(None),
            Some(object) => Ok(Some(object.custom_metadata().map_err(err)?.into_iter().collect())),
        }
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        self.bucket.delete(key).await.map_err(err)
    }

    async fn list(&self, prefix: &str, after: Option<&str>, limit: u32) -> StoreResult<Vec<Listed>> {
        let mut list = self.bucket.list().prefix(prefix).limit(limit).include(vec![Include::CustomMetadata]);
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
