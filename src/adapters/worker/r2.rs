//! [`Blobs`] over an R2 bucket binding.

use crate::base::pour::{construct, pour, writer_of};
use crate::http::Stream;
use crate::platform::{Blob, Blobs, Listed, StoreError, StoreResult};
use worker::js_sys::{Object, Promise, Reflect};
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
    /// `R2Bucket.put` taking a stream: workers-rs's `put` copies a `Vec` into a new JS array
    /// first, a second whole copy of every upload.
    type RawBucket;
    #[wasm_bindgen(method, catch)]
    fn put(this: &RawBucket, key: &str, value: &JsValue, options: &Object) -> Result<Promise, JsValue>;
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
        // The bytes go in slices through a stream of known length (R2 needs the length up
        // front): a view of the whole Vec would be copied whole by the runtime.
        let pipe = construct(&["FixedLengthStream"], &[JsValue::from_f64(bytes.len() as f64)]).map_err(js_err)?;
        let readable = Reflect::get(&pipe, &JsValue::from_str("readable")).map_err(js_err)?;
        let writer = writer_of(&pipe).map_err(js_err)?;
        let stored = JsFuture::from(self.raw.put(key, &readable, &options).map_err(js_err)?);
        let (poured, stored) = futures_util::future::join(pour(&bytes, &[&writer]), stored).await;
        stored.map_err(js_err)?;
        poured.map_err(js_err)?;
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
