//! The metadata record kept in KV for every image, and its public view.

use crate::sniff::{Format, Orientation};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Blocked,
    /// Waiting for review: invisible to the public.
    Pending,
}

/// Where the bytes live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    R2,
    Telegram,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageMeta {
    pub id: String,
    /// Base name the uploader gave, for downloads and the admin console.
    pub name: String,
    pub format: Format,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
    pub orientation: Orientation,
    pub sha256: String,
    #[serde(default)]
    pub md5: String,
    #[serde(default)]
    pub sha1: String,
    /// Milliseconds since the epoch.
    pub uploaded: u64,
    pub status: Status,
    #[serde(default)]
    pub album: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub channel: Channel,
    /// R2 key of the bytes (content-addressed; the object exists when the bytes are in R2).
    pub location: String,
    /// SHA-256 of the delete token.
    pub delete_hash: String,
    #[serde(default)]
    pub animated: bool,
    /// Fingerprint of the upload token that stored it (see [`crate::access::auth::Uploader`]): only
    /// that token or the admin ever receives the delete link again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The Telegram copy (the only one when `channel` is Telegram; a second one beside R2
    /// with `STORAGE_CHANNEL=r2+telegram`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telegram: Option<TelegramCopy>,
    /// What the classifier said, in `auto` review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moderation: Option<Moderation>,
    /// Served only to the admin and through signed links ([`ImageMeta::is_private`]).
    #[serde(default, skip_serializing_if = "is_false")]
    pub private: bool,
    /// Its album is private: set by the index store whenever the record is written, so a view
    /// needs no second lookup (see [`crate::index::albums`]).
    #[serde(default, skip_serializing_if = "is_false")]
    pub album_private: bool,
    /// Its album has the watermark off (set like `album_private`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub album_unmarked: bool,
    /// Alt text for the copy formats and the gallery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
    /// Tags a captioning model suggested (`CAPTION_MODEL`); the admin adopts them or not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggested_tags: Vec<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A classifier's verdict on an upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Moderation {
    /// `normal`, `nsfw`, or `error` when the classifier could not judge.
    pub label: String,
    /// How unsafe, 0 to 1.
    pub score: f64,
    pub model: String,
}

impl ImageMeta {
    pub fn kv_key(id: &str) -> String {
        format!("img:{id}")
    }

    /// Strong validator for HTTP caching: the content hash never changes for an id.
    pub fn etag(&self) -> String {
        format!("\"{}\"", &self.sha256[..32.min(self.sha256.len())])
    }

    /// Hidden from the public: only the admin and signed links see it.
    pub fn is_private(&self) -> bool {
        self.private || self.album_private
    }

    pub fn file_path(&self) -> String {
        format!("/file/{}.{}", self.id, self.format.ext())
    }
}

/// One stored document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub file_id: String,
    pub file_unique_id: String,
    pub message_id: i64,
    pub bytes: u64,
}

/// Where an image lives in Telegram.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelegramCopy {
    pub chat_id: String,
    /// Public id of the bot that sent the parts (their `file_id`s are its own).
    pub bot: String,
    pub parts: Vec<Part>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_written_by_the_first_version_still_read() {
        // Every field added since has a default: an upgrade never rewrites records.
        let first = r#"{"id":"Xk3dP9aQ2mZr","name":"photo.jpg","format":"jpeg","bytes":10,"width":4,"height":3,
            "orientation":"landscape","sha256":"ab","uploaded":1763700000000,"status":"active","album":null,"tags":[],
            "channel":"r2","location":"i/ab","delete_hash":"cd","animated":false}"#;
        let meta: ImageMeta = serde_json::from_str(first).unwrap();
        assert_eq!((meta.owner, meta.telegram, meta.md5.as_str()), (None, None, ""));
    }
}
