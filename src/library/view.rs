//! Ready-to-paste links for an image: URL, Markdown, HTML and BBCode, plus its delete link.

use crate::config::Config;
use crate::index::record::ImageMeta;
use crate::library::variants::srcset_queries;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    pub url: String,
    pub markdown: String,
    pub html: String,
    pub bbcode: String,
    /// Present only where the delete token is known (upload answers, never lookups).
    pub delete_url: Option<String>,
}

/// The image's alt text (the name's stem when it has none), kept from breaking out of Markdown
/// brackets, BBCode or HTML attributes.
fn alt_text(meta: &ImageMeta) -> String {
    let stem = meta.name.rsplit_once('.').map(|(s, _)| s).unwrap_or(&meta.name);
    let alt = meta.alt.as_deref().unwrap_or(stem);
    alt.chars().filter(|c| !matches!(c, '[' | ']' | '<' | '>' | '"' | '\'' | '&' | '\n' | '\r')).collect()
}

impl Links {
    /// The links of `meta` served from `base`; `query` (a signed link's) goes on every URL.
    pub fn new(config: &Config, base: &str, meta: &ImageMeta, delete_token: Option<&str>) -> Links {
        Links::with_query(config, base, meta, delete_token, None)
    }

    pub fn with_query(config: &Config, base: &str, meta: &ImageMeta, delete_token: Option<&str>, query: Option<&str>) -> Links {
        let plain = format!("{base}{}", meta.file_path());
        let url = query.map_or_else(|| plain.clone(), |q| format!("{plain}?{q}"));
        let alt = alt_text(meta);
        // Smaller variants for pages that show the image smaller (animated images have none).
        let sizes: Vec<String> = match meta.animated {
            true => Vec::new(),
            false => srcset_queries(config, &meta.id, meta.width)
                .into_iter()
                .map(|(w, q)| format!("{plain}?{}{q} {w}w", query.map_or(String::new(), |q| format!("{q}&"))))
                .collect(),
        };
        let srcset = match sizes.is_empty() {
            true => String::new(),
            false => format!(" srcset=\"{}, {url} {w}w\" sizes=\"(max-width: {w}px) 100vw, {w}px\"", sizes.join(", "), w = meta.width),
        };
        Links {
            markdown: format!("![{alt}]({url})"),
            html: format!("<img src=\"{url}\"{srcset} alt=\"{alt}\" width=\"{}\" height=\"{}\" loading=\"lazy\" decoding=\"async\">", meta.width, meta.height),
            // No alt: phpBB, Discuz and MyBB print `[img alt=…]` as text.
            bbcode: format!("[img]{url}[/img]"),
            delete_url: delete_token.map(|t| format!("{base}/delete/{}/{t}", meta.id)),
            url,
        }
    }

    pub fn json(&self) -> Value {
        let mut v = json!({"url": self.url, "markdown": self.markdown, "html": self.html, "bbcode": self.bbcode});
        if let Some(d) = &self.delete_url {
            v["delete_url"] = json!(d);
        }
        v
    }

    /// The record as the public API shows it: everything but secrets and storage internals.
    pub fn record_json(&self, meta: &ImageMeta) -> Value {
        json!({
            "id": meta.id,
            "name": meta.name,
            "format": meta.format,
            "mime": meta.format.mime(),
            "bytes": meta.bytes,
            "width": meta.width,
            "height": meta.height,
            "orientation": meta.orientation,
            "sha256": meta.sha256,
            "uploaded": meta.uploaded,
            "status": meta.status,
            "album": meta.album,
            "tags": meta.tags,
            "animated": meta.animated,
            "alt": meta.alt,
            "private": meta.is_private(),
            "links": self.json(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::record::{Channel, Status};
    use crate::sniff::{Format, Orientation};

    #[test]
    fn names_cannot_inject_markup() {
        let m = ImageMeta {
            id: "abc".into(),
            name: "x\"><script>].png".into(),
            format: Format::Png,
            bytes: 1,
            width: 3,
            height: 4,
            orientation: Orientation::Portrait,
            sha256: String::new(),
            md5: String::new(),
            sha1: String::new(),
            uploaded: 0,
            status: Status::Active,
            album: None,
            tags: vec![],
            channel: Channel::R2,
            location: String::new(),
            delete_hash: String::new(),
            animated: false,
            owner: None,
            moderation: None,
            telegram: None,
            private: false,
            album_private: false,
            album_unmarked: false,
            alt: None,
            suggested_tags: Vec::new(),
        };
        let l = Links::new(&Config::default(), "https://i.example.com", &m, Some("tok"));
        assert_eq!(l.url, "https://i.example.com/file/abc.png");
        assert_eq!(l.markdown, "![xscript](https://i.example.com/file/abc.png)");
        assert_eq!(l.html, "<img src=\"https://i.example.com/file/abc.png\" alt=\"xscript\" width=\"3\" height=\"4\" loading=\"lazy\" decoding=\"async\">");
        assert_eq!(l.bbcode, "[img]https://i.example.com/file/abc.png[/img]");
        assert_eq!(l.delete_url.as_deref(), Some("https://i.example.com/delete/abc/tok"));
    }

    #[test]
    fn public_json_has_no_secrets() {
        let m = ImageMeta {
            id: "abc".into(),
            name: "cat.png".into(),
            format: Format::Png,
            bytes: 10,
            width: 2,
            height: 1,
            orientation: Orientation::Landscape,
            sha256: "00".repeat(32),
            md5: String::new(),
            sha1: String::new(),
            uploaded: 1,
            status: Status::Active,
            album: None,
            tags: vec![],
            channel: Channel::R2,
            location: "i/00".into(),
            delete_hash: "secret-hash".into(),
            animated: false,
            owner: None,
            moderation: None,
            telegram: None,
            private: false,
            album_private: false,
            album_unmarked: false,
            alt: None,
            suggested_tags: Vec::new(),
        };
        let links = Links::new(&Config::default(), "https://h", &m, None);
        let text = links.record_json(&m).to_string();
        assert!(!text.contains("secret-hash"));
        assert!(!text.contains("i/00"));
        assert!(text.contains("\"orientation\":\"landscape\""));
    }
}
