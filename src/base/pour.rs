//! Hands bytes held in wasm memory to a runtime stream a slice at a time (Worker only).
//!
//! A view of wasm memory handed to the runtime is sound only while nothing can grow that
//! memory, and an R2 put or a digest reads its input while other requests of the isolate run.
//! Copying the whole file out first would hold it twice. Through a stream, one slice at a time
//! is copied out of wasm memory, into a buffer JavaScript owns.

use worker::js_sys::{self, Object, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen::prelude::*;
use worker::wasm_bindgen::JsCast;
use worker::wasm_bindgen_futures::JsFuture;

/// Large enough that a 1.4 MB photo is a handful of writes, small enough not to matter.
const SLICE: usize = 256 << 10;

#[wasm_bindgen]
extern "C" {
    /// A `WritableStreamDefaultWriter`.
    pub type Writer;
    #[wasm_bindgen(method, catch)]
    fn write(this: &Writer, chunk: &Uint8Array) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn close(this: &Writer) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn abort(this: &Writer) -> Result<Promise, JsValue>;
}

/// `new <path…>(args…)` for a constructor the runtime has as a global (or below one).
pub fn construct(path: &[&str], args: &[JsValue]) -> Result<Object, JsValue> {
    let mut ctor: JsValue = js_sys::global().into();
    for name in path {
        ctor = Reflect::get(&ctor, &JsValue::from_str(name))?;
    }
    let args: js_sys::Array = args.iter().collect();
    Ok(Reflect::construct(ctor.unchecked_ref::<js_sys::Function>(), &args)?.unchecked_into())
}

/// The writer of `stream`'s writable side (`stream` itself when it is a `WritableStream`).
pub fn writer_of(stream: &JsValue) -> Result<Writer, JsValue> {
    let writable = Reflect::get(stream, &JsValue::from_str("writable")).ok().filter(|w| !w.is_undefined()).unwrap_or_else(|| stream.clone());
    let get = Reflect::get(&writable, &JsValue::from_str("getWriter"))?;
    Ok(get.unchecked_ref::<js_sys::Function>().call0(&writable)?.unchecked_into())
}

/// Writes `bytes` to every writer, one slice at a time, then closes them. Each slice is copied
/// into one buffer the JavaScript side owns, and the next copy waits until every writer has
/// taken the last one, so wasm memory may grow in between without moving anything the runtime
/// still reads.
pub async fn pour(bytes: &[u8], writers: &[&Writer]) -> Result<(), JsValue> {
    let buffer = Uint8Array::new_with_length(SLICE.min(bytes.len()).max(1) as u32);
    let result = async {
        for part in bytes.chunks(SLICE) {
            let chunk = buffer.subarray(0, part.len() as u32);
            chunk.copy_from(part);
            for w in writers {
                JsFuture::from(w.write(&chunk)?).await?;
            }
        }
        for w in writers {
            JsFuture::from(w.close()?).await?;
        }
        Ok(())
    }
    .await;
    if result.is_err() {
        for w in writers {
            if let Ok(p) = w.abort() {
                let _ = JsFuture::from(p).await;
            }
        }
    }
    result
}
