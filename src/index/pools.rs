//! Random images: filters, the pools an image belongs to, and the choice of a slot.
//!
//! Every active image sits in a few *pools* (all images, its orientation, its album, each tag,
//! and those crossed with orientation). A pool is a dense array of slots `0..n` kept by the
//! [`Pool`](crate::platform::Pool) store, so a draw is one uniform number in `0..n` and one
//! lookup: exactly uniform and the same cost at ten images or ten million.

use crate::base::error::ApiError;
use crate::budget::{MAX_LABEL_CHARS, MAX_TAGS};
use crate::http::Request;
use crate::index::sql::{num, text, Sql};
use crate::sniff::Orientation;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a draw needs to answer without reading the metadata record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolEntry {
    pub id: String,
    /// `/file/<id>.<ext>`
    pub path: String,
    /// R2 key of the bytes.
    pub location: String,
    pub mime: String,
    pub width: u32,
    pub height: u32,
    pub orientation: Orientation,
}

/// A request's filters. Album and tag do not combine (each image is indexed by album or tag,
/// crossed with orientation, which keeps an image in at most 2 + 2 × tags pools).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub orientation: Option<Orientation>,
    pub album: Option<String>,
    pub tag: Option<String>,
}

impl Filter {
    /// Reads `orientation`, `album` and `tag` from the query; `orientation=auto` picks portrait
    /// for phones (mobile user agent or `Sec-CH-UA-Mobile: ?1`) and landscape otherwise.
    pub fn from_request(req: &Request) -> Result<Filter, ApiError> {
        let orientation = match req.query("orientation").as_deref().map(str::trim) {
            None | Some("") | Some("any") => None,
            Some("auto") => Some(auto_orientation(req)),
            Some(o) => Some(
                Orientation::parse(o)
                    .ok_or_else(|| ApiError::bad_request("bad_parameter", format!("orientation must be landscape, portrait, square or auto, not {o:?}")))?,
            ),
        };
        let label = |name: &str| -> Result<Option<String>, ApiError> {
            match req.query(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
                Some(v) => check_label(name, &v).map(|_| Some(v)),
                None => Ok(None),
            }
        };
        let filter = Filter { orientation, album: label("album")?, tag: label("tag")?.map(|t| t.to_lowercase()) };
        if filter.album.is_some() && filter.tag.is_some() {
            return Err(ApiError::bad_request("bad_parameter", "filter by album or by tag, not both"));
        }
        Ok(filter)
    }

    /// The pool this filter draws from.
    pub fn pool(&self) -> String {
        let base = match (&self.album, &self.tag) {
            (Some(a), _) => format!("a:{a}"),
            (None, Some(t)) => format!("t:{t}"),
            (None, None) => "*".to_string(),
        };
        match self.orientation {
            Some(o) => format!("{base}|o:{}", o.as_str()),
            None => base,
        }
    }
}

/// Every pool an image belongs to, each once (records written before tags were de-duplicated
/// may repeat one).
pub fn pools_of(orientation: Orientation, album: Option<&str>, tags: &[String]) -> Vec<String> {
    let mut bases = vec!["*".to_string()];
    bases.extend(album.map(|a| format!("a:{a}")));
    for t in tags {
        let base = format!("t:{t}");
        if !bases.contains(&base) {
            bases.push(base);
        }
    }
    let o = orientation.as_str();
    bases.iter().flat_map(|b| [b.clone(), format!("{b}|o:{o}")]).collect()
}

/// The rows the pools are kept in, as primitive reads and writes. The Durable Object implements
/// them over SQLite and [`crate::adapters::memory`] over maps; both run the one copy of the logic below,
/// so a fake can never hide a bug the real store has.
pub trait PoolTable {
    type Error;
    fn entry(&self, id: &str) -> Result<Option<PoolEntry>, Self::Error>;
    fn put_entry(&self, entry: &PoolEntry) -> Result<(), Self::Error>;
    fn delete_entry(&self, id: &str) -> Result<(), Self::Error>;
    fn count(&self, pool: &str) -> Result<u64, Self::Error>;
    fn set_count(&self, pool: &str, n: u64) -> Result<(), Self::Error>;
    /// One slot `id` holds, if any.
    fn any_slot_of(&self, id: &str) -> Result<Option<(String, u64)>, Self::Error>;
    fn id_at(&self, pool: &str, slot: u64) -> Result<Option<String>, Self::Error>;
    fn insert_slot(&self, pool: &str, slot: u64, id: &str) -> Result<(), Self::Error>;
    fn delete_slot(&self, pool: &str, slot: u64) -> Result<(), Self::Error>;
    fn move_slot(&self, pool: &str, from: u64, to: u64) -> Result<(), Self::Error>;
    fn variant_count(&self, id: &str) -> Result<u64, Self::Error>;
    fn has_variant(&self, id: &str, key: &str) -> Result<bool, Self::Error>;
    fn insert_variant(&self, id: &str, key: &str) -> Result<(), Self::Error>;
    fn delete_variant(&self, id: &str, key: &str) -> Result<(), Self::Error>;
    fn delete_variants(&self, id: &str) -> Result<(), Self::Error>;
    /// A generation lease: until when it runs, and the image id once it is done.
    fn lease(&self, key: &str) -> Result<Option<(u64, Option<String>)>, Self::Error>;
    fn set_lease(&self, key: &str, until: u64, id: Option<&str>) -> Result<(), Self::Error>;
    fn delete_lease(&self, key: &str) -> Result<(), Self::Error>;
    /// New generations on a UTC day (days since the epoch).
    fn day_count(&self, day: u64) -> Result<u64, Self::Error>;
    fn set_day_count(&self, day: u64, n: u64) -> Result<(), Self::Error>;
}

/// The tables the pools, variant reservations and generation leases live in.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS images (id TEXT PRIMARY KEY, entry TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS slots (pool TEXT NOT NULL, slot INTEGER NOT NULL, id TEXT NOT NULL, PRIMARY KEY (pool, slot));
CREATE INDEX IF NOT EXISTS slots_by_id ON slots (id);
CREATE TABLE IF NOT EXISTS counts (pool TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS variants (id TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (id, key));
CREATE TABLE IF NOT EXISTS leases (key TEXT PRIMARY KEY, until INTEGER NOT NULL, id TEXT);
CREATE TABLE IF NOT EXISTS days (day INTEGER PRIMARY KEY, n INTEGER NOT NULL);
";

/// The pool rows over SQLite, whichever runs it: the Durable Object's, or the native fake's.
impl<S: Sql> PoolTable for S {
    type Error = S::Error;
    fn entry(&self, id: &str) -> Result<Option<PoolEntry>, S::Error> {
        match self.rows("SELECT entry FROM images WHERE id = ?", vec![id.into()])?.first().and_then(|r| text(&r["entry"])) {
            Some(e) => serde_json::from_str(&e).map(Some).map_err(|e| S::Error::from(format!("a pool entry is unreadable: {e}"))),
            None => Ok(None),
        }
    }
    fn put_entry(&self, entry: &PoolEntry) -> Result<(), S::Error> {
        let json = serde_json::to_string(entry).map_err(|e| S::Error::from(e.to_string()))?;
        self.run("INSERT OR REPLACE INTO images (id, entry) VALUES (?, ?)", vec![entry.id.as_str().into(), json.into()])
    }
    fn delete_entry(&self, id: &str) -> Result<(), S::Error> {
        self.run("DELETE FROM images WHERE id = ?", vec![id.into()])
    }
    fn count(&self, pool: &str) -> Result<u64, S::Error> {
        Ok(self.rows("SELECT n FROM counts WHERE pool = ?", vec![pool.into()])?.first().map_or(0, |r| num(&r["n"])))
    }
    fn set_count(&self, pool: &str, n: u64) -> Result<(), S::Error> {
        self.run("INSERT INTO counts (pool, n) VALUES (?, ?) ON CONFLICT (pool) DO UPDATE SET n = excluded.n", vec![pool.into(), n.into()])
    }
    fn any_slot_of(&self, id: &str) -> Result<Option<(String, u64)>, S::Error> {
        let rows = self.rows("SELECT pool, slot FROM slots WHERE id = ? LIMIT 1", vec![id.into()])?;
        Ok(rows.first().and_then(|r| Some((text(&r["pool"])?, num(&r["slot"])))))
    }
    fn id_at(&self, pool: &str, slot: u64) -> Result<Option<String>, S::Error> {
        Ok(self.rows("SELECT id FROM slots WHERE pool = ? AND slot = ?", vec![pool.into(), slot.into()])?.first().and_then(|r| text(&r["id"])))
    }
    fn insert_slot(&self, pool: &str, slot: u64, id: &str) -> Result<(), S::Error> {
        self.run("INSERT INTO slots (pool, slot, id) VALUES (?, ?, ?)", vec![pool.into(), slot.into(), id.into()])
    }
    fn delete_slot(&self, pool: &str, slot: u64) -> Result<(), S::Error> {
        self.run("DELETE FROM slots WHERE pool = ? AND slot = ?", vec![pool.into(), slot.into()])
    }
    fn move_slot(&self, pool: &str, from: u64, to: u64) -> Result<(), S::Error> {
        self.run("UPDATE slots SET slot = ? WHERE pool = ? AND slot = ?", vec![to.into(), pool.into(), from.into()])
    }
    fn variant_count(&self, id: &str) -> Result<u64, S::Error> {
        Ok(self.rows("SELECT COUNT(*) AS n FROM variants WHERE id = ?", vec![id.into()])?.first().map_or(0, |r| num(&r["n"])))
    }
    fn has_variant(&self, id: &str, key: &str) -> Result<bool, S::Error> {
        Ok(!self.rows("SELECT 1 AS n FROM variants WHERE id = ? AND key = ?", vec![id.into(), key.into()])?.is_empty())
    }
    fn insert_variant(&self, id: &str, key: &str) -> Result<(), S::Error> {
        self.run("INSERT OR IGNORE INTO variants (id, key) VALUES (?, ?)", vec![id.into(), key.into()])
    }
    fn delete_variant(&self, id: &str, key: &str) -> Result<(), S::Error> {
        self.run("DELETE FROM variants WHERE id = ? AND key = ?", vec![id.into(), key.into()])
    }
    fn delete_variants(&self, id: &str) -> Result<(), S::Error> {
        self.run("DELETE FROM variants WHERE id = ?", vec![id.into()])
    }
    fn lease(&self, key: &str) -> Result<Option<(u64, Option<String>)>, S::Error> {
        let rows = self.rows("SELECT until, id FROM leases WHERE key = ?", vec![key.into()])?;
        Ok(rows.first().map(|r| (num(&r["until"]), text(&r["id"]))))
    }
    fn set_lease(&self, key: &str, until: u64, id: Option<&str>) -> Result<(), S::Error> {
        self.run("INSERT OR REPLACE INTO leases (key, until, id) VALUES (?, ?, ?)", vec![key.into(), until.into(), id.into()])
    }
    fn delete_lease(&self, key: &str) -> Result<(), S::Error> {
        self.run("DELETE FROM leases WHERE key = ?", vec![key.into()])
    }
    fn day_count(&self, day: u64) -> Result<u64, S::Error> {
        Ok(self.rows("SELECT n FROM days WHERE day = ?", vec![day.into()])?.first().map_or(0, |r| num(&r["n"])))
    }
    fn set_day_count(&self, day: u64, n: u64) -> Result<(), S::Error> {
        self.run("INSERT OR REPLACE INTO days (day, n) VALUES (?, ?)", vec![day.into(), n.into()])
    }
}

/// Puts an image into each of `pools` once; adding an image that is in already changes nothing.
pub fn pool_add<T: PoolTable>(t: &T, entry: &PoolEntry, pools: &[String]) -> Result<(), T::Error> {
    if t.entry(&entry.id)?.is_some() {
        return Ok(());
    }
    t.put_entry(entry)?;
    let mut seen: Vec<&String> = Vec::with_capacity(pools.len());
    for pool in pools {
        if seen.contains(&pool) {
            continue;
        }
        seen.push(pool);
        let n = t.count(pool)?;
        t.insert_slot(pool, n, &entry.id)?;
        t.set_count(pool, n + 1)?;
    }
    Ok(())
}

/// Takes an image out of every pool, whatever slots it holds: the last slot of a pool moves
/// into each hole. Slots are looked up afresh after every move, because a move can carry
/// another slot of the same image.
pub fn pool_remove<T: PoolTable>(t: &T, id: &str) -> Result<(), T::Error> {
    while let Some((pool, at)) = t.any_slot_of(id)? {
        let last = t.count(&pool)?.saturating_sub(1);
        t.delete_slot(&pool, at)?;
        if at < last {
            t.move_slot(&pool, last, at)?;
        }
        t.set_count(&pool, last)?;
    }
    t.delete_entry(id)
}

/// The image in slot `number % n` of a pool of `n`.
pub fn pool_pick<T: PoolTable>(t: &T, pool: &str, number: u64) -> Result<Option<PoolEntry>, T::Error> {
    let n = t.count(pool)?;
    if n == 0 {
        return Ok(None);
    }
    match t.id_at(pool, slot(number, n))? {
        Some(id) => t.entry(&id),
        None => Ok(None),
    }
}

/// Up to `k` different images: the slots from `number % n` on, one after another (so, in a
/// pool of `n`, never the same image twice when `k <= n`).
pub fn pool_pick_run<T: PoolTable>(t: &T, pool: &str, number: u64, k: u64) -> Result<Vec<PoolEntry>, T::Error> {
    let n = t.count(pool)?;
    let mut out = Vec::new();
    for i in 0..k.min(n) {
        if let Some(entry) = t.id_at(pool, slot(number.wrapping_add(i), n))?.map(|id| t.entry(&id)).transpose()?.flatten() {
            out.push(entry);
        }
    }
    Ok(out)
}

/// Reserves a variant of an image unless it already has `cap` others: check and insert in one
/// step of the store, so concurrent requests cannot overshoot the cap.
pub fn variant_reserve<T: PoolTable>(t: &T, id: &str, key: &str, cap: u64) -> Result<bool, T::Error> {
    if t.has_variant(id, key)? {
        return Ok(true);
    }
    if t.variant_count(id)? >= cap {
        return Ok(false);
    }
    t.insert_variant(id, key)?;
    Ok(true)
}

fn auto_orientation(req: &Request) -> Orientation {
    let ua = req.header("user-agent").unwrap_or("");
    let mobile =
        req.header("sec-ch-ua-mobile").is_some_and(|v| v.trim() == "?1") || ["Mobile", "Android", "iPhone", "iPad", "HarmonyOS"].iter().any(|m| ua.contains(m));
    if mobile {
        Orientation::Portrait
    } else {
        Orientation::Landscape
    }
}

/// The number a draw uses: from `?seed=` (stable for the same seed) or from the random source.
pub fn draw_number(seed: Option<&str>) -> u64 {
    let mut bytes = [0u8; 8];
    match seed {
        Some(s) => bytes.copy_from_slice(&Sha256::digest(s.as_bytes())[..8]),
        None => crate::base::ids::random_bytes(&mut bytes),
    }
    u64::from_le_bytes(bytes)
}

/// A slot in `0..n` from a 64-bit number; the modulo bias is below 2⁻⁴⁰ for any real pool.
pub fn slot(number: u64, n: u64) -> u64 {
    number % n.max(1)
}

/// `RANDOM_HOSTS="hpic.example.com=landscape,vpic.example.com=portrait,cats.example.com=album:cats"`:
/// the filter for a host name, and whether it is the `api-` twin that answers the count.
pub fn host_route(setting: &str, host: &str) -> Option<(Filter, bool)> {
    let (name, count) = match host.strip_prefix("api-") {
        Some(rest) => (rest, true),
        None => (host, false),
    };
    setting.split(',').find_map(|rule| {
        let (h, target) = rule.split_once('=')?;
        if !h.trim().eq_ignore_ascii_case(name) {
            return None;
        }
        let target = target.trim();
        let filter = if let Some(album) = target.strip_prefix("album:") {
            Filter { album: Some(album.to_string()), ..Filter::default() }
        } else if let Some(tag) = target.strip_prefix("tag:") {
            Filter { tag: Some(tag.to_lowercase()), ..Filter::default() }
        } else {
            Filter { orientation: Orientation::parse(target), ..Filter::default() }
        };
        Some((filter, count))
    })
}

/// Albums and tags name random pools and appear in URLs and filters: letters and digits of any
/// script, spaces, `-`, `_` and `.`, at most [`MAX_LABEL_CHARS`]. Nothing else, so no label can
/// spell a pool key's separators (`|`, `:`) and forge another pool.
pub fn check_label(what: &str, s: &str) -> Result<(), ApiError> {
    let ok = s.chars().count() <= MAX_LABEL_CHARS && s.chars().all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "bad_parameter",
            format!("{what} may hold letters, digits, spaces, - _ and . (at most {MAX_LABEL_CHARS} characters), not {s:?}"),
        ))
    }
}

/// Tags as stored: trimmed, lower-case, each once, in the order given; at most [`MAX_TAGS`].
pub fn parse_tags<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Vec<String>, ApiError> {
    let mut tags: Vec<String> = Vec::new();
    for t in items.into_iter().map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty()) {
        check_label("tags", &t)?;
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(ApiError::bad_request("bad_parameter", format!("an image may have at most {MAX_TAGS} tags, not {}", tags.len())));
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    fn req(url: &str, headers: &[(&str, &str)]) -> Request {
        let mut r = Request::new(Method::Get, url).unwrap();
        r.headers = headers.iter().copied().collect();
        r
    }

    #[test]
    fn filters_name_their_pool() {
        let f = Filter::from_request(&req("http://h/random?orientation=portrait&album=cats", &[])).unwrap();
        assert_eq!(f.pool(), "a:cats|o:portrait");
        assert_eq!(Filter::from_request(&req("http://h/random", &[])).unwrap().pool(), "*");
        assert_eq!(Filter::from_request(&req("http://h/random?tag=Sea", &[])).unwrap().pool(), "t:sea");
    }

    #[test]
    fn every_filter_finds_the_image() {
        let pools = pools_of(Orientation::Portrait, Some("cats"), &["sea".into()]);
        for url in
            ["/random", "/random?orientation=portrait", "/random?album=cats", "/random?album=cats&orientation=portrait", "/random?tag=sea&orientation=portrait"]
        {
            let f = Filter::from_request(&req(&format!("http://h{url}"), &[])).unwrap();
            assert!(pools.contains(&f.pool()), "{url}");
        }
        assert!(!pools.contains(&"*|o:landscape".to_string()));
    }

    #[test]
    fn auto_follows_the_device() {
        let phone = req("http://h/random?orientation=auto", &[("user-agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile/15E148")]);
        assert_eq!(Filter::from_request(&phone).unwrap().orientation, Some(Orientation::Portrait));
        let hint = req("http://h/random?orientation=auto", &[("sec-ch-ua-mobile", "?1")]);
        assert_eq!(Filter::from_request(&hint).unwrap().orientation, Some(Orientation::Portrait));
        let desktop = req("http://h/random?orientation=auto", &[("user-agent", "Mozilla/5.0 (X11; Linux x86_64)")]);
        assert_eq!(Filter::from_request(&desktop).unwrap().orientation, Some(Orientation::Landscape));
    }

    #[test]
    fn bad_filters_are_400() {
        assert_eq!(Filter::from_request(&req("http://h/random?orientation=diagonal", &[])).unwrap_err().status, 400);
        assert_eq!(Filter::from_request(&req("http://h/random?album=a&tag=b", &[])).unwrap_err().status, 400);
    }

    #[test]
    fn seeds_are_stable() {
        assert_eq!(draw_number(Some("x")), draw_number(Some("x")));
        assert_ne!(draw_number(Some("x")), draw_number(Some("y")));
        assert_eq!(slot(7, 5), 2);
    }

    /// A randomised sequence of adds (with repeated pools) and removes, checked against a plain
    /// model: every pool holds exactly its live members, densely.
    #[test]
    fn pools_match_a_model_under_random_changes() {
        use crate::adapters::memory::MemoryPool;
        use std::collections::BTreeMap;
        let table = MemoryPool::default();
        let mut model: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let names = ["*", "t:a", "t:b", "a:x"];
        for step in 0..2000 {
            let id = format!("i{}", next(40));
            if next(3) == 0 {
                pool_remove(&table, &id).unwrap();
                model.remove(&id);
            } else if let std::collections::btree_map::Entry::Vacant(slot) = model.entry(id.clone()) {
                let pools: Vec<String> = (0..1 + next(4)).map(|_| names[next(4) as usize].to_string()).collect();
                let entry =
                    PoolEntry { id, path: String::new(), location: String::new(), mime: String::new(), width: 1, height: 1, orientation: Orientation::Square };
                pool_add(&table, &entry, &pools).unwrap();
                let mut unique = pools.clone();
                unique.sort();
                unique.dedup();
                slot.insert(unique);
            }
            for pool in names {
                let members: Vec<&String> = model.iter().filter(|(_, p)| p.iter().any(|x| x == pool)).map(|(id, _)| id).collect();
                let n = table.count(pool).unwrap();
                assert_eq!(n, members.len() as u64, "step {step} pool {pool}");
                let mut drawn: Vec<String> = (0..n).map(|s| pool_pick(&table, pool, s).unwrap().unwrap().id).collect();
                drawn.sort();
                assert_eq!(drawn.iter().collect::<Vec<_>>(), members, "step {step} pool {pool}");
            }
        }
    }

    #[test]
    fn variant_reservations_stop_at_the_cap() {
        let table = crate::adapters::memory::MemoryPool::default();
        assert!(variant_reserve(&table, "i", "a", 2).unwrap());
        assert!(variant_reserve(&table, "i", "b", 2).unwrap());
        assert!(variant_reserve(&table, "i", "a", 2).unwrap(), "an existing variant is always served");
        assert!(!variant_reserve(&table, "i", "c", 2).unwrap());
        table.delete_variants("i").unwrap();
        assert!(variant_reserve(&table, "i", "c", 2).unwrap());
    }

    #[test]
    fn host_routes() {
        let s = "hpic.example.com=landscape, vpic.example.com=portrait,cats.example.com=album:cats";
        let (f, count) = host_route(s, "vpic.example.com").unwrap();
        assert_eq!((f.orientation, count), (Some(Orientation::Portrait), false));
        let (f, count) = host_route(s, "api-hpic.example.com").unwrap();
        assert_eq!((f.orientation, count), (Some(Orientation::Landscape), true));
        assert_eq!(host_route(s, "cats.example.com").unwrap().0.album.as_deref(), Some("cats"));
        assert!(host_route(s, "img.example.com").is_none());
    }
}
