//! Album settings: public (shown in the gallery), private (served only through signed links),
//! and a gallery password. Nothing is public by default; an album without a row has the
//! defaults. A private album's images carry `album_private` in their records (written by
//! [`crate::index::catalog::index`] from this table), so serving one needs no lookup here.

use crate::index::sql::{num, text, Sql};
use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS albums (name TEXT PRIMARY KEY, public INTEGER NOT NULL DEFAULT 0, private INTEGER NOT NULL DEFAULT 0,
  password TEXT, updated INTEGER NOT NULL DEFAULT 0);
";

/// One album's settings. `password` is the stored hash (see [`crate::access::links`]), never
/// the password.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub public: bool,
    pub private: bool,
    #[serde(default)]
    pub password: Option<String>,
}

/// An album as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Album {
    pub name: String,
    pub images: u64,
    pub settings: Settings,
}

fn settings_of(r: &serde_json::Value) -> Settings {
    Settings { public: num(&r["public"]) == 1, private: num(&r["private"]) == 1, password: text(&r["password"]) }
}

pub fn get<S: Sql>(s: &S, name: &str) -> Result<Settings, S::Error> {
    Ok(s.rows("SELECT public, private, password FROM albums WHERE name = ?", vec![name.into()])?.first().map(settings_of).unwrap_or_default())
}

pub fn set<S: Sql>(s: &S, name: &str, settings: &Settings, now_ms: u64) -> Result<(), S::Error> {
    s.run(
        "INSERT OR REPLACE INTO albums (name, public, private, password, updated) VALUES (?, ?, ?, ?, ?)",
        vec![name.into(), u64::from(settings.public).into(), u64::from(settings.private).into(), settings.password.as_deref().into(), now_ms.into()],
    )
}

/// Every album that has images, settings or was made empty on the drive, by name. With
/// `public_only`, the gallery's albums: public ones that have active images.
pub fn list<S: Sql>(s: &S, public_only: bool) -> Result<Vec<Album>, S::Error> {
    let sql = if public_only {
        "SELECT a.name, a.public, a.private, a.password, COUNT(c.id) AS images FROM albums a
           JOIN catalog c ON c.album = a.name AND c.status = 'active' AND COALESCE(json_extract(c.record, '$.private'), 0) = 0
         WHERE a.public = 1 GROUP BY a.name ORDER BY a.name"
    } else {
        "SELECT n.name, a.public, a.private, a.password, (SELECT COUNT(*) FROM catalog c WHERE c.album = n.name) AS images FROM (
           SELECT DISTINCT album AS name FROM catalog WHERE album IS NOT NULL
           UNION SELECT name FROM albums UNION SELECT name FROM drive_folders) n
         LEFT JOIN albums a ON a.name = n.name ORDER BY n.name"
    };
    let rows = s.rows(sql, vec![])?;
    Ok(rows.iter().filter_map(|r| Some(Album { name: text(&r["name"])?, images: num(&r["images"]), settings: settings_of(r) })).collect())
}

/// Which of `names` are private albums.
pub fn private_among<S: Sql>(s: &S, names: &[&str]) -> Result<Vec<String>, S::Error> {
    let mut found = Vec::new();
    for name in names {
        if get(s, name)?.private && !found.iter().any(|f| f == name) {
            found.push(name.to_string());
        }
    }
    Ok(found)
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
        assert_eq!(private_among(&db, &["trips", "drafts", "drafts", "none"]).unwrap(), ["drafts"]);
    }
}
