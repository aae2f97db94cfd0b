//! Image ids and per-image secrets.
//!
//! Ids are 12 characters of base62 from the operating system's (or Worker's) cryptographic
//! random source: ~71 bits, so nobody can walk the library by guessing URLs. Delete tokens are
//! HMACs of the id under `SECRET_KEY`, so uploading the same bytes again hands back the same
//! working delete link; only their SHA-256 is stored.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub const ID_LEN: usize = 12;

/// Fills `buf` from the cryptographic random source.
pub fn random_bytes(buf: &mut [u8]) {
    // getrandom only fails on platforms without an entropy source, which a Worker is not.
    getrandom::fill(buf).expect("the platform has a random source"); // ok: Workers and every OS do
}

pub fn new_id() -> String {
    let mut id = String::with_capacity(ID_LEN);
    let mut buf = [0u8; 32];
    while id.len() < ID_LEN {
        random_bytes(&mut buf);
        // 248 = 4 × 62: rejecting larger bytes keeps every character equally likely.
        id.extend(buf.iter().filter(|&&b| b < 248).map(|&b| ALPHABET[(b % 62) as usize] as char).take(ID_LEN - id.len()));
    }
    id
}

/// Ids are looked up, never used as paths: anything outside `[A-Za-z0-9_-]{1,64}` is not one.
pub fn is_valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// MD5 and SHA-1, which Lsky, SM.MS and Chevereto clients expect to see (not for security).
pub fn legacy_digests(data: &[u8]) -> (String, String) {
    (hex(&md5::Md5::digest(data)), hex(&sha1::Sha1::digest(data)))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh random secret for humans to paste: 32 base64url characters.
pub fn random_token() -> String {
    let mut buf = [0u8; 24];
    random_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// The delete token for `id`: derived when a secret key is set, random otherwise.
pub fn delete_token(secret_key: Option<&str>, id: &str) -> String {
    match secret_key {
        Some(key) => hmac_base64(key, &format!("delete:{id}"), 18),
        None => random_token(),
    }
}

/// The first `len` bytes of HMAC-SHA256(`key`, `message`), base64url without padding.
pub fn hmac_base64(key: &str, message: &str, len: usize) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length"); // ok: infallible
    mac.update(message.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..len.min(32)])
}

/// Whether `token` matches the stored hash of a delete token.
pub fn token_matches(token: &str, stored_hash: &str) -> bool {
    same_secret(&sha256_hex(token.as_bytes()), stored_hash)
}

/// Compares secrets in time independent of where they first differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_short_safe_and_distinct() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), ID_LEN);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        assert!(is_valid_id(&a));
    }

    #[test]
    fn paths_are_not_ids() {
        for bad in ["", "../etc", "a/b", "a.b", "%2e", &"x".repeat(65)] {
            assert!(!is_valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn derived_delete_tokens_are_stable_and_keyed() {
        let t = delete_token(Some("k1"), "abc");
        assert_eq!(t, delete_token(Some("k1"), "abc"));
        assert_ne!(t, delete_token(Some("k2"), "abc"));
        assert_ne!(t, delete_token(Some("k1"), "abd"));
        assert!(token_matches(&t, &sha256_hex(t.as_bytes())));
        assert!(!token_matches("nope", &sha256_hex(t.as_bytes())));
    }
}
