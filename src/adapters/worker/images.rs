//! [`Images`] over the `[images]` binding (`IMAGE_TRANSFORMS`), declared here because
//! workers-rs has no type for it: the source goes in as a stream, the work happens outside the
//! isolate, and only the (small) output enters wasm memory.

use crate::http::Stream;
use crate::platform::{Images, ImagesError};
use crate::transform::engine::Spec;
use worker::js_sys::{Reflect, Uint8Array};
use worker::wasm_bindgen::prelude::*;
use worker::wasm_bindgen::JsCast;
use worker::wasm_bindgen_futures::JsFuture;

/// The binding's name in `wrangler.toml`.
pub const BINDING: &str = "IMAGE_TRANSFORMS";

/// The binding, or `None` when it is not configured.
pub struct CfImages(pub Option<JsValue>);

impl CfImages {
    pub fn from_env(env: &worker::Env) -> CfImages {
        CfImages(Reflect::get(env, &JsValue::from_str(BINDING)).ok().filter(|b| b.is_object()))
    }
}

#[wasm_bindgen(module = "/src/adapters/worker/images.js")]
extern "C" {
    /// See `images.js`: `{bytes}`, `{failure}` or `{garbled: true}`.
    #[wasm_bindgen(js_name = transformImage)]
    fn transform_image(
        binding: &JsValue,
        input: &worker::web_sys::ReadableStream,
        expect: Option<String>,
        transform: &str,
        output: &str,
        overlay: Option<Uint8Array>,
        draw: Option<String>,
    ) -> worker::js_sys::Promise;
}

impl Images for CfImages {
    fn bound(&self) -> bool {
        self.0.is_some()
    }

    async fn transform(&self, input: Stream, expect: Option<&str>, spec: &Spec) -> Result<Vec<u8>, ImagesError> {
        let failed = |e: JsValue| ImagesError::Failed(format!("{e:?}"));
        let binding = self.0.as_ref().ok_or_else(|| ImagesError::Failed("no [images] binding".into()))?;
        let (overlay, draw) = match &spec.draw {
            Some((png, at)) => (Some(Uint8Array::from(png.as_slice())), Some(at.to_string())),
            None => (None, None),
        };
        let promise = transform_image(binding, &input.0, expect.map(str::to_string), &spec.transform.to_string(), &spec.output.to_string(), overlay, draw);
        let answer = JsFuture::from(promise).await.map_err(failed)?;
        if Reflect::get(&answer, &"garbled".into()).map_err(failed)?.is_truthy() {
            return Err(ImagesError::Garbled);
        }
        let bytes = Reflect::get(&answer, &"bytes".into()).map_err(failed)?;
        if bytes.is_undefined() {
            let why = Reflect::get(&answer, &"failure".into()).ok().and_then(|f| f.as_string()).unwrap_or_default();
            return Err(ImagesError::Failed(why));
        }
        Ok(bytes.unchecked_into::<Uint8Array>().to_vec())
    }
}
