//! Album settings: public (shown in the gallery), private (served only through signed links),
//! and a gallery password. Nothing is public by default; an album without a row has the
//! defaults. A private album's images carry `album_private` in their records (written by
//! [`crate::index::catalog::index`] from this table), so serving one needs no lookup here.

use crate::index::record::ImageMeta;
use crate::index::sql::{num, text, Sql};
use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS albums (name TEXT PRIMARY KEY, public INTEGER NOT NULL DEFAULT 0, private INTEGER NOT NULL DEFAULT 0,
  password TEXT, watermark INTEGER NOT NULL DEFAULT 1, updated INTEGER NOT NULL DEFAULT 0);
";

/// One album's settings. `password` is the stored hash (see [`crate::access::private`]),
/// never the password; `watermark` is whether `WATERMARK_TEXT` marks its images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub public: bool,
    pub private: bool,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default = "marked")]
    pub watermark: bool,
}

fn marked() -> bool {
    true
}

impl Default for Settings {
    fn default() -> Self {
        Settings { public: false, private: false, password: None, watermark: true }
    }
}

/// What the records of some albums must say: which are private, which unmarked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flags {
    pub private: Vec<String>,
    pub unmarked: Vec<String>,
}

/// An album as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Album {
    pub name: String,
    pub images: u64,
    pub settings: Settings,
}

impl Flags {
    /// Sets a record's album flags from these.
    pub fn apply(&self, meta: &mut ImageMeta) {
        let of = |list: &[String]| meta.album.as_ref().is_some_and(|a| list.contains(a));
        (meta.album_private, meta.album_unmarked) = (of(&self.private), of(&self.unmarked));
    }
}

fn settings_of(r: &serde_json::Value) -> Settings {
    // An album with no row (listed from the catalog) has the defaults.
    let watermark = r["watermark"].is_null() || num(&r["watermark"]) == 1;
    Settings { public: num(&r["public"]) == 1, private: num(&r["private"]) == 1, password: text(&r["password"]), watermark }
}

pub fn get<S: Sql>(s: &S, name: &str) -> Result<Settings, S::Error> {
    Ok(s.rows("SELECT public, private, password, watermark FROM albums WHERE name = ?", vec![name.into()])?.first().map(settings_of).unwrap_or_default())
}

pub fn set<S: Sql>(s: &S, name: &str, settings: &Settings, now_ms: u64) -> Result<(), S::Error> {
    s.run(
        "INSERT OR REPLACE INTO albums (name, public, private, password, watermark, updated) VALUES (?, ?, ?, ?, ?, ?)",
        vec![
            name.into(),
            u64::from(settings.public).into(),
            u64::from(settings.private).into(),
            settings.password.as_deref().into(),
            u64::from(settings.watermark).into(),
            now_ms.into(),
        ],
    )
}

/// Every album that has images, settings or was made empty on the drive, by name. With
/// `public_only`, the gallery's albums: public ones that have active images.
pub fn list<S: Sql>(s: &S, public_only: bool) -> Result<Vec<Album>, S::Error> {
    let sql = if public_only {
        "SELECT a.name, a.public, a.private, a.password, a.watermark, COUNT(c.id) AS images FROM albums a
           JOIN catalog c ON c.album = a.name AND c.status = 'active' AND COALESCE(json_extract(c.record, '$.private'), 0) = 0
         WHERE a.public = 1 GROUP BY a.name ORDER BY a.name"
    } else {
        "SELECT n.name, a.public, a.private, a.password, a.watermark, (SELECT COUNT(*) FROM catalog c WHERE c.album = n.name) AS images FROM (
           SELECT DISTINCT album AS name FROM catalog WHERE album IS NOT NULL
           UNION SELECT name FROM albums UNION SELECT name FROM drive_folders) n
         LEFT JOIN albums a ON a.name = n.name ORDER BY n.name"
    };
    let rows = s.rows(sql, vec![])?;
    Ok(rows.iter().filter_map(|r| Some(Album { name: text(&r["name"])?, images: num(&r["images"]), settings: settings_of(r) })).collect())
}

/// Which of `names` are private albums, and which have the watermark off.
pub fn flags_of<S: Sql>(s: &S, names: &[&str]) -> Result<Flags, S::Error> {
    let mut flags = Flags::default();
    for name in names {
        if flags.private.iter().chain(&flags.unmarked).any(|f| f == name) {
            continue;
        }
        let settings = get(s, name)?;
        if settings.private {
            flags.private.push(name.to_string());
        }
        if !settings.watermark {
            flags.unmarked.push(name.to_string());
        }
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::MemoryPool;
    use crate::index::catalog::upsert;
    use crate::index::record::ImageMeta;
    use serde_json::json;

    fn image(id: &str, album: &str, private: bool) -> ImageMeta {
        serde_json::from_value(json!({
            "id": id, "name": "a.png", "format": "png", "bytes": 7, "width": 2, "height": 1, "album": album, "private": private,
            "orientation": "landscape", "sha256": "00", "uploaded": 1, "status": "active",
            "channel": "r2", "location": "i/00", "delete_hash": "h", "tags": [],
        }))
        .unwrap()
    }

    #[test]
    fn only_public_albums_with_visible_images_reach_the_gallery() {
        let db = MemoryPool::default();
        crate::index::store::open(&db).unwrap();
        upsert(&db, &image("a", "trips", false)).unwrap();
        upsert(&db, &image("b", "trips", true)).unwrap();
        upsert(&db, &image("c", "drafts", false)).unwrap();
        assert!(list(&db, true).unwrap().is_empty(), "nothing is public by default");
        set(&db, "trips", &Settings { public: true, ..Settings::default() }, 5).unwrap();
        let public = list(&db, true).unwrap();
        assert_eq!((public.len(), public[0].name.as_str(), public[0].images), (1, "trips", 1), "a private image is not counted");
        let all = list(&db, false).unwrap();
        assert_eq!(all.iter().map(|a| (a.name.as_str(), a.images, a.settings.public)).collect::<Vec<_>>(), [("drafts", 1, false), ("trips", 2, true)]);
        set(&db, "drafts", &Settings { private: true, ..Settings::default() }, 6).unwrap();
        set(&db, "trips", &Settings { public: true, watermark: false, ..Settings::default() }, 7).unwrap();
        let flags = flags_of(&db, &["trips", "drafts", "drafts", "none"]).unwrap();
        assert_eq!((flags.private, flags.unmarked), (vec!["drafts".to_string()], vec!["trips".to_string()]));
    }
}
