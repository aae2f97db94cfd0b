//! The catalog seen as a drive (WebDAV, [`crate::clients::dav`]): albums are folders, images
//! are files. Listings read only the columns a file manager shows, a page at a time, so a
//! folder of 10,000 images is ten small answers rather than 10,000 records. Empty folders made
//! with `MKCOL` are remembered here until an image lands in them.

use crate::index::sql::{num, text, Arg, Sql};
use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS drive_folders (name TEXT PRIMARY KEY, owner TEXT, created INTEGER NOT NULL);
";

/// One file of a folder, as the drive shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub name: String,
    pub format: String,
    pub bytes: u64,
    pub uploaded: u64,
}

/// A folder: its name and when something last changed in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Folder {
    pub name: String,
    pub modified: u64,
}

/// `owner IS ?` for a token's own images, nothing for the admin.
fn owned(owner: Option<&str>, filters: &mut Vec<&'static str>, args: &mut Vec<Arg>) {
    if let Some(o) = owner {
        filters.push("owner = ?");
        args.push(o.into());
    }
}

/// The folders (albums) visible to `owner` (every one for `None`, the admin), by name.
pub fn folders<S: Sql>(s: &S, owner: Option<&str>) -> Result<Vec<Folder>, S::Error> {
    let (mut filters, mut args) = (vec!["album IS NOT NULL"], vec![]);
    owned(owner, &mut filters, &mut args);
    let made = if owner.is_some() { "WHERE owner = ?" } else { "" };
    if let Some(o) = owner {
        args.push(o.into());
    }
    let rows = s.rows(
        &format!(
            "SELECT name, MAX(modified) AS modified FROM (
               SELECT album AS name, MAX(uploaded) AS modified FROM catalog WHERE {} GROUP BY album
               UNION ALL SELECT name, created AS modified FROM drive_folders {made})
             GROUP BY name ORDER BY name",
            filters.join(" AND ")
        ),
        args,
    )?;
    Ok(rows.iter().filter_map(|r| Some(Folder { name: text(&r["name"])?, modified: num(&r["modified"]) })).collect())
}

/// Whether folder `name` exists for `owner`: it has images of theirs, or they made it.
pub fn folder_exists<S: Sql>(s: &S, name: &str, owner: Option<&str>) -> Result<bool, S::Error> {
    let (mut filters, mut args) = (vec!["album = ?"], vec![name.into()]);
    owned(owner, &mut filters, &mut args);
    let mut made_args: Vec<Arg> = vec![name.into()];
    let made = match owner {
        Some(o) => {
            made_args.push(o.into());
            "name = ? AND owner = ?"
        }
        None => "name = ?",
    };
    args.extend(made_args);
    let sql = format!("SELECT 1 AS r FROM catalog WHERE {} UNION ALL SELECT 1 AS r FROM drive_folders WHERE {made} LIMIT 1", filters.join(" AND "));
    Ok(!s.rows(&sql, args)?.is_empty())
}

/// Remembers an empty folder; false when one of that name is there already.
pub fn make_folder<S: Sql>(s: &S, name: &str, owner: Option<&str>, now_ms: u64) -> Result<bool, S::Error> {
    if folder_exists(s, name, None)? {
        return Ok(false);
    }
    s.run("INSERT INTO drive_folders (name, owner, created) VALUES (?, ?, ?)", vec![name.into(), owner.into(), now_ms.into()])?;
    Ok(true)
}

/// Forgets an empty folder made with `MKCOL`; false when it still holds images.
pub fn remove_folder<S: Sql>(s: &S, name: &str) -> Result<bool, S::Error> {
    if !s.rows("SELECT 1 AS r FROM catalog WHERE album = ? LIMIT 1", vec![name.into()])?.is_empty() {
        return Ok(false);
    }
    s.run("DELETE FROM drive_folders WHERE name = ?", vec![name.into()])?;
    Ok(true)
}

/// Up to `limit` files of folder `album` (`None`: the top level, images in no album), oldest
/// first, after the file `after` (uploaded, id) when given.
pub fn files<S: Sql>(s: &S, album: Option<&str>, owner: Option<&str>, after: Option<(u64, String)>, limit: u32) -> Result<Vec<Entry>, S::Error> {
    let (mut filters, mut args) = (vec!["album IS ?"], vec![album.into()]);
    owned(owner, &mut filters, &mut args);
    if let Some((uploaded, id)) = after {
        filters.push("(uploaded > ? OR (uploaded = ? AND id > ?))");
        args.extend([uploaded.into(), uploaded.into(), id.into()]);
    }
    args.push(u64::from(limit.clamp(1, 5000)).into());
    let sql = format!(
        "SELECT id, json_extract(record, '$.name') AS name, format, bytes, uploaded FROM catalog WHERE {} ORDER BY uploaded, id LIMIT ?",
        filters.join(" AND ")
    );
    Ok(s.rows(&sql, args)?.iter().filter_map(entry).collect())
}

/// The files of folder `album` whose name is `name` (ignoring case, as Finder and Explorer
/// do), oldest first: the first is `name`, the second `name (2)`, and so on.
pub fn named<S: Sql>(s: &S, album: Option<&str>, name: &str, owner: Option<&str>) -> Result<Vec<Entry>, S::Error> {
    let (mut filters, mut args) = (vec!["album IS ?", "lname = ?"], vec![album.into(), name.to_lowercase().into()]);
    owned(owner, &mut filters, &mut args);
    let sql = format!(
        "SELECT id, json_extract(record, '$.name') AS name, format, bytes, uploaded FROM catalog WHERE {} ORDER BY uploaded, id LIMIT 1000",
        filters.join(" AND ")
    );
    Ok(s.rows(&sql, args)?.iter().filter_map(entry).collect())
}

fn entry(r: &serde_json::Value) -> Option<Entry> {
    Some(Entry { id: text(&r["id"])?, name: text(&r["name"])?, format: text(&r["format"])?, bytes: num(&r["bytes"]), uploaded: num(&r["uploaded"]) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::MemoryPool;
    use crate::index::catalog::upsert;
    use crate::index::record::ImageMeta;
    use serde_json::json;

    fn image(id: &str, name: &str, album: Option<&str>, uploaded: u64, owner: Option<&str>) -> ImageMeta {
        serde_json::from_value(json!({
            "id": id, "name": name, "format": "png", "bytes": 7, "width": 2, "height": 1, "album": album, "owner": owner,
            "orientation": "landscape", "sha256": "00", "uploaded": uploaded, "status": "active",
            "channel": "r2", "location": "i/00", "delete_hash": "h", "tags": [],
        }))
        .unwrap()
    }

    #[test]
    fn folders_files_and_pages() {
        let db = MemoryPool::default();
        crate::index::store::open(&db).unwrap();
        for i in 0..7u64 {
            // Two share a timestamp: the id orders them.
            upsert(&db, &image(&format!("c{i}"), "cat.png", Some("cats"), 10 + i / 2, None)).unwrap();
        }
        upsert(&db, &image("top", "Top.PNG", None, 5, Some("alice"))).unwrap();
        upsert(&db, &image("dog", "dog.png", Some("dogs"), 50, Some("alice"))).unwrap();
        assert!(make_folder(&db, "empty", Some("alice"), 60).unwrap());
        assert!(!make_folder(&db, "cats", None, 61).unwrap(), "a folder of that name exists");

        let names = |v: Vec<Folder>| v.into_iter().map(|f| f.name).collect::<Vec<_>>();
        assert_eq!(names(folders(&db, None).unwrap()), ["cats", "dogs", "empty"]);
        assert_eq!(names(folders(&db, Some("alice")).unwrap()), ["dogs", "empty"], "a token sees its own");
        assert!(folder_exists(&db, "cats", None).unwrap() && !folder_exists(&db, "cats", Some("alice")).unwrap());

        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = files(&db, Some("cats"), None, after.take(), 3).unwrap();
            seen.extend(page.iter().map(|e| e.id.clone()));
            match page.last() {
                Some(last) if page.len() == 3 => after = Some((last.uploaded, last.id.clone())),
                _ => break,
            }
        }
        assert_eq!(seen, ["c0", "c1", "c2", "c3", "c4", "c5", "c6"], "every file once, oldest first");
        assert_eq!(files(&db, None, None, None, 10).unwrap().iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["top"]);
        assert_eq!(named(&db, None, "top.png", Some("alice")).unwrap()[0].name, "Top.PNG", "names match ignoring case");
        assert!(named(&db, None, "top.png", Some("bob")).unwrap().is_empty());

        assert!(!remove_folder(&db, "cats").unwrap(), "a folder with images stays");
        assert!(remove_folder(&db, "empty").unwrap());
        assert_eq!(names(folders(&db, None).unwrap()), ["cats", "dogs"]);
    }
}
