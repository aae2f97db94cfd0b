//! Where an image's variants live in R2, the size every upload answer links to, and the
//! signatures and `srcset` widths of variant URLs.

use crate::access::private::LINK_PARAMS;
use crate::base::ids::hmac_base64;
use crate::config::Config;

/// Prefix of every variant of an image, for listing and deleting them.
pub fn variant_prefix(id: &str) -> String {
    format!("v/{id}/")
}

/// The preview every upload answer links to (`thumbnail_url`): always allowed, so clients'
/// thumbnails work whatever the guard says.
pub const THUMB_QUERY: &str = "w=256";

/// The query minus `sig` (and a signed link's own parameters), sorted: what a signature covers.
pub fn canonical_query(pairs: &[(String, String)]) -> String {
    let mut kept: Vec<_> = pairs.iter().filter(|(k, _)| k != "sig" && !LINK_PARAMS.contains(&k.as_str())).map(|(k, v)| format!("{k}={v}")).collect();
    kept.sort();
    kept.join("&")
}

/// `sig` = base64url(HMAC-SHA256(TRANSFORM_SIGNING_KEY, "<id>?<sorted query without sig>")).
pub fn signature(key: &str, id: &str, pairs: &[(String, String)]) -> String {
    hmac_base64(key, &format!("{id}?{}", canonical_query(pairs)), 32)
}

/// Widths a page's `srcset` offers when `TRANSFORM_WIDTHS` names none.
const SRCSET_WIDTHS: [u32; 4] = [320, 640, 1024, 1600];

/// The widths below the image's own that a `srcset` offers, each with the query that makes it
/// (signed when new variants need a signature); the full image comes last at its own width.
pub fn srcset_queries(config: &Config, id: &str, width: u32) -> Vec<(u32, String)> {
    let widths: Vec<u32> = if config.transform_widths.is_empty() { SRCSET_WIDTHS.to_vec() } else { config.transform_widths.clone() };
    let mut widths: Vec<u32> = widths.into_iter().filter(|w| *w < width).collect();
    widths.sort_unstable();
    widths.dedup();
    widths
        .into_iter()
        .map(|w| {
            let query = format!("w={w}");
            match &config.transform_signing_key {
                Some(key) => (w, format!("{query}&sig={}", signature(key, id, &[("w".into(), w.to_string())]))),
                None => (w, query),
            }
        })
        .collect()
}
