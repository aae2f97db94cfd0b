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
    let [sha256] = digests(data, [Algo::Sha256]).await.ok_or_else(failed)?;
    Ok(hex(&sha256))
}

/// SHA-256, and MD5 and SHA-1 when `legacy` (only the Lsky and Chevereto answers show them:
/// MD5 alone costs more CPU than SHA-256 with the CPU's SHA instructions).
pub async fn of(data: &[u8], legacy: bool) -> Result<Digests, ApiError> {
    if !legacy {
        let [sha256] = digests(data, [Algo::Sha256]).await.ok_or_else(failed)?;
        return Ok(Digests { sha256: hex(&sha256), sha1: String::new(), md5: String::new() });
    }
    let [sha256, sha1, md5] = digests(data, [Algo::Sha256, Algo::Sha1, Algo::Md5]).await.ok_or_else(failed)?;
    Ok(Digests { sha256: hex(&sha256), sha1: hex(&sha1), md5: hex(&md5) })
}

/// The digests of `data`, in one pass over it.
async fn digests<const N: usize>(data: &[u8], algos: [Algo; N]) -> Option<[Vec<u8>; N]> {
    #[cfg(target_arch = "wasm32")]
    {
        worker_digest::all(data, algos).await
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        use sha2::Digest;
        Some(algos.map(|algo| match algo {
            Algo::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Algo::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Algo::Md5 => md5::Md5::digest(data).to_vec(),
        }))
    }
}

#[cfg(target_arch = "wasm32")]
mod worker_digest {
    use super::Algo;
    use crate::base::pour::{construct, pour, writer_of};
    use worker::js_sys::{ArrayBuffer, Promise, Reflect, Uint8Array};
    use worker::wasm_bindgen::prelude::*;
    use worker::wasm_bindgen_futures::JsFuture;

    /// `crypto.DigestStream`s fed the bytes a slice at a time: `crypto.subtle.digest` would
    /// copy the whole file out of wasm memory first, once per algorithm.
    pub async fn all<const N: usize>(data: &[u8], algos: [Algo; N]) -> Option<[Vec<u8>; N]> {
        let name = |algo: Algo| match algo {
            Algo::Sha256 => "SHA-256",
            Algo::Sha1 => "SHA-1",
            Algo::Md5 => "MD5",
        };
        let streams: Vec<_> = algos.iter().map(|a| construct(&["crypto", "DigestStream"], &[JsValue::from_str(name(*a))])).collect::<Result<_, _>>().ok()?;
        let writers: Vec<_> = streams.iter().map(|s| writer_of(s)).collect::<Result<_, _>>().ok()?;
        pour(data, &writers.iter().collect::<Vec<_>>()).await.ok()?;
        let mut out = Vec::with_capacity(N);
        for s in &streams {
            let digest: Promise = Reflect::get(s, &JsValue::from_str("digest")).ok()?.into();
            let buffer = JsFuture::from(digest).await.ok()?;
            out.push(Uint8Array::new(&ArrayBuffer::from(buffer)).to_vec());
        }
        out.try_into().ok()
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
