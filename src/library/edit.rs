//! Changes to an image's record an admin or its owner may make: album, tags, name, status,
//! privacy, alt text.

use crate::base::error::ApiError;
use crate::index::pools::{check_label, parse_tags};
use crate::index::record::ImageMeta;
use crate::sniff::Format;

/// The longest alt text kept, in characters.
pub const MAX_ALT: usize = 300;

/// A record with `fields` changed: `album` (string or null), `tags` (list or "a,b"), `name`,
/// `status`, `private`, `alt`. Shared by PATCH and the console's bulk actions.
pub fn apply_changes(before: &ImageMeta, fields: &serde_json::Map<String, serde_json::Value>) -> Result<ImageMeta, ApiError> {
    let mut meta = before.clone();
    let bad = |field: &str, expected: &str| ApiError::bad_request("bad_parameter", format!("{field} must be {expected}"));
    for (key, value) in fields {
        match key.as_str() {
            "album" => {
                meta.album = match value {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(a) if a.trim().is_empty() => None,
                    serde_json::Value::String(a) => {
                        check_label("album", a.trim())?;
                        Some(a.trim().to_string())
                    }
                    _ => return Err(bad("album", "a string or null")),
                }
            }
            "tags" => {
                meta.tags = match value {
                    serde_json::Value::String(t) => parse_tags(t.split(','))?,
                    serde_json::Value::Array(items) => {
                        parse_tags(items.iter().map(|t| t.as_str().ok_or_else(|| bad("tags", "a list of strings"))).collect::<Result<Vec<_>, _>>()?)?
                    }
                    _ => return Err(bad("tags", "a list of strings or \"a,b\"")),
                };
            }
            "name" => {
                let name = value.as_str().map(str::trim).filter(|n| !n.is_empty()).ok_or_else(|| bad("name", "a non-empty string"))?;
                // Keep the extension, so the download name still opens in the right program.
                let base = base_name(Some(name), meta.format);
                let ext = meta.format.ext();
                let has_ext = base.rsplit_once('.').is_some_and(|(_, e)| e.eq_ignore_ascii_case(ext) || (ext == "jpg" && e.eq_ignore_ascii_case("jpeg")));
                meta.name = if has_ext { base } else { format!("{base}.{ext}") };
            }
            "status" => {
                meta.status = serde_json::from_value(value.clone()).map_err(|_| bad("status", "active, blocked or pending"))?;
            }
            "private" => meta.private = value.as_bool().ok_or_else(|| bad("private", "true or false"))?,
            "alt" => {
                meta.alt = match value {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(a) => {
                        Some(a.chars().filter(|c| !c.is_control()).take(MAX_ALT).collect::<String>().trim().to_string()).filter(|a| !a.is_empty())
                    }
                    _ => return Err(bad("alt", "a string or null")),
                }
            }
            other => {
                return Err(ApiError::bad_request("bad_parameter", format!("unknown field {other:?}: album, tags, name, status, private and alt can change")))
            }
        }
    }
    Ok(meta)
}

/// Only the last path component of a client's file name, cleaned; `image.<ext>` when none.
pub fn base_name(name: Option<&str>, format: Format) -> String {
    let base = name.unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("").chars().filter(|c| !c.is_control()).take(200).collect::<String>();
    let base = base.trim();
    if base.is_empty() || base == "." || base == ".." {
        format!("image.{}", format.ext())
    } else {
        base.to_string()
    }
}
