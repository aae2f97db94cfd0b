//! Digests of whole files (SHA-256 for identity, MD5 and SHA-1 for the clients that show them).
//!
//! In the Worker they run in the runtime's WebCrypto, natively and outside the 10 ms of wasm
//! CPU the Free plan allows: hashing a 1.4 MB photo three times in wasm cost more than the
//! rest of its upload. Natively (tests) the same digests come from the RustCrypto crates.
//! Short inputs (tokens, keys) keep using [`crate::base::ids::sha256_hex`], which is synchronous.

use crate::base::error::ApiError;
use crate::base::ids::hex;

/// The digests of one file, as lower-case hex (MD5 and SHA-1 empty unless asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    pub sha256: String,
    pub sha1: String,
    pub md5: String,
}

#[derive(Clone, Copy)]
enum Algo {
    Sha256,
    Sha1,
    Md5,
}

/// The runtime refused to hash: no Worker lacks these algorithms, so this is our bug.
fn failed() -> ApiError {
    ApiError::internal("hashing the file failed")
}

pub async fn sha256_hex(data: &[u8]) -> Result<String, ApiError> {
    Ok(hex(&digest(Algo::Sha256, data).await.ok_or_else(failed)?))
}

/// SHA-256, and MD5 and SHA-1 when `legacy` (only the Lsky and Chevereto answers show them:
/// MD5 alone costs more CPU than SHA-256 with the CPU's SHA instructions).
pub async fn of(data: &[u8], legacy: bool) -> Result<Digests, ApiError> {
    let sha256 = hex(&digest(Algo::Sha256, data).await.ok_or_else(failed)?);
    if !legacy {
        return Ok(Digests { sha256, sha1: String::new(), md5: String::new() });
    }
    let sha1 = hex(&digest(Algo::Sha1, data).await.ok_or_else(failed)?);
    let md5 = hex(&digest(Algo::Md5, data).await.ok_or_else(failed)?);
    Ok(Digests { sha256, sha1, md5 })
}

async fn digest(algo: Algo, data: &[u8]) -> Option<Vec<u8>> {
    #[cfg(target_arch = "wasm32")]
    {
        worker_digest::finish(worker_digest::start(algo, data)).await
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        use sha2::Digest;
        Some(match algo {
            Algo::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Algo::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Algo::Md5 => md5::Md5::digest(data).to_vec(),
        })
    }
}

#[cfg(target_arch = "wasm32")]
mod worker_digest {
    use super::Algo;
    use worker::js_sys::{ArrayBuffer, Promise, Uint8Array};
    use worker::wasm_bindgen::prelude::*;
    use worker::wasm_bindgen_futures::JsFuture;

    #[wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = digest, catch)]
        fn subtle_digest(algo: &str, data: &Uint8Array) -> Result<Promise, JsValue>;
    }

    /// Starts a digest. WebCrypto copies its input before `digest` returns, so a view of wasm
    /// memory is safe here: nothing can grow (and move) the memory in between.
    pub fn start(algo: Algo, data: &[u8]) -> Option<Promise> {
        let name = match algo {
            Algo::Sha256 => "SHA-256",
            Algo::Sha1 => "SHA-1",
            Algo::Md5 => "MD5",
        };
        // SAFETY: the view is used only by the call on the next line, which copies it.
        let view = unsafe { Uint8Array::view(data) };
        subtle_digest(name, &view).ok()
    }

    pub async fn finish(started: Option<Promise>) -> Option<Vec<u8>> {
        let buffer = JsFuture::from(started?).await.ok()?;
        Some(Uint8Array::new(&ArrayBuffer::from(buffer)).to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_the_known_values() {
        assert_eq!(pollster::block_on(of(b"abc", false)).unwrap().md5, "");
        let d = pollster::block_on(of(b"abc", true)).unwrap();
        assert_eq!(d.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(d.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(d.md5, "900150983cd24fb0d6963f7d28e17f72");
    }
}
