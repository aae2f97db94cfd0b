//! imgbed as a drive over WebDAV at `/dav`: albums are folders, images are files. Finder,
//! Explorer, davfs2 and rclone sign in with HTTP Basic, any user name and an imgbed token as the
//! password; the token's scopes decide what it may list, write and delete. Listings come from
//! the catalog ([`crate::index::drive`]), never from a KV list. Folder names are one namespace
//! (an album is an album, whoever made it); the files in them are the caller's to see. Two
//! files of one name in a folder show as `photo.jpg` and `photo (2).jpg`, oldest first, as file
//! managers name copies.

use crate::access::auth::{self, Uploader};
use crate::access::tokens::{self, Scope};
use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::http::{http_date, Method, Request, Response};
use crate::index::drive::Entry;
use crate::index::pools::check_label;
use crate::platform::Pool;
use crate::sniff::Format;
use crate::upload::ingest::IncomingFile;
use crate::upload::{store_all, UploadForm};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::collections::HashMap;

const ALLOW: &str = "OPTIONS, PROPFIND, PROPPATCH, GET, HEAD, PUT, DELETE, MKCOL, MOVE, LOCK, UNLOCK";
/// Files read from the catalog per call while listing a folder.
const PAGE: u32 = 1000;
/// Most files one folder listing shows (twenty pages: a bound on one request's memory and CPU).
const MAX_LISTED: usize = 20_000;
/// What a path segment keeps unescaped in an href.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'(').remove(b')');

/// `OPTIONS /dav…`: what the drive speaks (asked before signing in).
pub fn options() -> Response {
    Response::empty(200).with_header("dav", "1, 2").with_header("allow", ALLOW).with_header("ms-author-via", "DAV")
}

/// WebDAV clients put the token in HTTP Basic; the rest of imgbed reads tokens from the bearer
/// header. The console's own user and password stay Basic (they are not a token).
pub fn basic_as_bearer(config: &crate::config::Config, req: &mut Request) {
    if req.segments().first().map(String::as_str) != Some("dav") {
        return;
    }
    if let Some((user, password)) = auth::basic(req) {
        let console = config.admin_password.as_deref().is_some_and(|p| p == password && user == config.admin_user);
        if !console && !password.is_empty() {
            req.headers.set("authorization", format!("Bearer {password}"));
        }
    }
}

/// An error as the drive answers it: a 401 asks for Basic credentials, so clients prompt.
pub fn error(e: ApiError) -> Response {
    let unauthorized = e.status == 401;
    let resp = Response::from(e);
    match unauthorized {
        true => resp.with_header("www-authenticate", "Basic realm=\"imgbed\", charset=\"UTF-8\""),
        false => resp,
    }
}

/// Who is asking, and what their token allows.
struct Caller {
    uploader: Uploader,
    list: bool,
    upload: bool,
    delete: bool,
}

impl Caller {
    /// Whose files the drive shows: every image to the admin, a token its own uploads.
    fn owner(&self) -> Option<String> {
        self.uploader.owner()
    }
}

/// Each request is one credential check, counted once when it fails; the console password
/// (weak, perhaps) is refused from a locked-out address even when right, as the console does.
async fn caller<P: Platform>(app: &App<P>, req: &Request) -> Result<Caller, ApiError> {
    if auth::admin_credentials(&app.config, req) == Some(true) {
        if auth::header_token(req).is_none() {
            crate::access::guard::credential(app, req, true).await?;
        }
        return Ok(Caller { uploader: Uploader::Admin, list: true, upload: true, delete: true });
    }
    let Some(token) = auth::header_token(req) else {
        return Err(ApiError::unauthorized("sign in with any user name and an imgbed token as the password"));
    };
    if let Some(uploader) = auth::configured_uploader(&app.config, req, &token) {
        return Ok(Caller { uploader, list: false, upload: true, delete: false });
    }
    if token.starts_with(auth::MANAGED_TOKEN_PREFIX) {
        if let Some(r) = tokens::find(app, &token).await? {
            let now = app.now_ms;
            if [Scope::List, Scope::Upload, Scope::Delete].iter().any(|s| r.allows(*s, now)) {
                let uploader = auth::managed_uploader(&token);
                return Ok(Caller { uploader, list: r.allows(Scope::List, now), upload: r.allows(Scope::Upload, now), delete: r.allows(Scope::Delete, now) });
            }
        }
    }
    crate::access::guard::credential(app, req, false).await?;
    Err(ApiError::unauthorized("this token is not accepted (revoked, expired or unknown)"))
}

/// What a path names.
enum Target {
    Root,
    Folder(String),
    File {
        album: Option<String>,
        entry: Entry,
        shown: String,
    },
    /// Nothing yet, in a folder that exists: where a PUT or MOVE may put a file.
    Missing {
        album: Option<String>,
        name: String,
    },
}

/// `photo.jpg`, `photo (2).jpg`…: the `k`-th file named `name` in its folder.
fn numbered(name: &str, k: usize) -> String {
    if k <= 1 {
        return name.to_string();
    }
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem} ({k}).{ext}"),
        _ => format!("{name} ({k})"),
    }
}

/// The name and number of `photo (2).jpg`: (`photo.jpg`, 2).
fn unnumbered(name: &str) -> Option<(String, usize)> {
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) => (s, Some(e)),
        None => (name, None),
    };
    let (base, k) = stem.strip_suffix(')')?.rsplit_once(" (")?;
    let k: usize = k.parse().ok().filter(|k| *k >= 2)?;
    Some((ext.map_or(base.to_string(), |e| format!("{base}.{e}")), k))
}

/// The file `name` names in folder `album`, and the name it shows under.
async fn lookup<P: Platform>(app: &App<P>, album: Option<&str>, name: &str, owner: Option<&str>) -> Result<Option<(Entry, String)>, ApiError> {
    if let Some(first) = app.pool.named(album, name, owner).await?.into_iter().next() {
        return Ok(Some((first, name.to_string())));
    }
    let Some((base, k)) = unnumbered(name) else { return Ok(None) };
    Ok(app.pool.named(album, &base, owner).await?.into_iter().nth(k - 1).map(|e| (e, name.to_string())))
}

async fn resolve<P: Platform>(app: &App<P>, segs: &[String], owner: Option<&str>) -> Result<Target, ApiError> {
    match segs {
        [] => Ok(Target::Root),
        [one] => {
            if app.pool.folder_exists(one, None).await? {
                return Ok(Target::Folder(one.clone()));
            }
            Ok(match lookup(app, None, one, owner).await? {
                Some((entry, shown)) => Target::File { album: None, entry, shown },
                None => Target::Missing { album: None, name: one.clone() },
            })
        }
        [folder, name] => {
            if !app.pool.folder_exists(folder, None).await? {
                return Err(ApiError::new(409, "no_such_folder", format!("there is no folder {folder:?}: make it first (MKCOL)")));
            }
            Ok(match lookup(app, Some(folder), name, owner).await? {
                Some((entry, shown)) => Target::File { album: Some(folder.clone()), entry, shown },
                None => Target::Missing { album: Some(folder.clone()), name: name.clone() },
            })
        }
        _ => Err(ApiError::not_found("folders are albums, one level deep: nothing is below them")),
    }
}

/// Every request under `/dav`.
pub async fn handle<P: Platform>(app: &App<P>, req: &mut Request) -> Result<Response, ApiError> {
    let caller = caller(app, req).await?;
    let segs: Vec<String> = req.segments().into_iter().skip(1).collect();
    let owner = caller.owner();
    match req.method {
        Method::Propfind => propfind(app, req, &caller, &segs).await,
        Method::Get | Method::Head => match resolve(app, &segs, owner.as_deref()).await? {
            Target::File { entry, .. } => crate::serve::file::serve(app, req, &format!("{}.{}", entry.id, format_of(&entry).ext())).await,
            Target::Missing { .. } => Err(ApiError::not_found(format!("nothing at {}", req.url.path()))),
            _ => Ok(Response::text(200, "This is imgbed's WebDAV drive: mount it in a file manager or rclone (see the README).")),
        },
        Method::Put => put(app, req, &caller, &segs).await,
        Method::Delete => delete(app, req, &caller, &segs).await,
        Method::Mkcol => mkcol(app, &caller, &segs).await,
        Method::Move => moved(app, req, &caller, &segs).await,
        // Finder and Explorer lock a file before they write it; imgbed writes whole files, so a
        // lock has nothing to guard and is granted at once.
        Method::Lock => Ok(lock(req)),
        Method::Unlock => Ok(Response::empty(204)),
        // Explorer sets file times after a copy; imgbed keeps its own, and says yes.
        Method::Proppatch => Ok(multistatus(&format!(
            "<D:response><D:href>{}</D:href><D:propstat><D:prop/><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>",
            xml(req.url.path())
        ))),
        _ => Err(ApiError::new(405, "method_not_allowed", format!("the drive answers {ALLOW}"))),
    }
}

fn format_of(e: &Entry) -> Format {
    serde_json::from_value(serde_json::Value::String(e.format.clone())).unwrap_or(Format::Jpeg)
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn href(album: Option<&str>, name: Option<&str>) -> String {
    let mut h = "/dav/".to_string();
    if let Some(a) = album {
        h.push_str(&utf8_percent_encode(a, SEGMENT).to_string());
        h.push('/');
    }
    if let Some(n) = name {
        h.push_str(&utf8_percent_encode(n, SEGMENT).to_string());
    }
    h
}

fn folder_xml(href: &str, name: &str, modified: u64) -> String {
    format!(
        "<D:response><D:href>{}</D:href><D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype><D:displayname>{}</D:displayname><D:getlastmodified>{}</D:getlastmodified></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>",
        xml(href),
        xml(name),
        http_date(modified)
    )
}

fn file_xml(album: Option<&str>, shown: &str, e: &Entry) -> String {
    format!(
        "<D:response><D:href>{}</D:href><D:propstat><D:prop><D:resourcetype/><D:displayname>{}</D:displayname><D:getcontentlength>{}</D:getcontentlength><D:getcontenttype>{}</D:getcontenttype><D:getlastmodified>{}</D:getlastmodified><D:getetag>\"{}\"</D:getetag></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>",
        xml(&href(album, Some(shown))),
        xml(shown),
        e.bytes,
        format_of(e).mime(),
        http_date(e.uploaded),
        e.id
    )
}

fn multistatus(body: &str) -> Response {
    let doc = format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\">{body}</D:multistatus>");
    Response::new(207, "application/xml; charset=utf-8", doc.into_bytes())
}

/// `PROPFIND` with `Depth: 0` (the thing itself) or `1` (and what is in it; `infinity` is
/// answered as 1). Without the `list` scope a token sees the folders but no files.
async fn propfind<P: Platform>(app: &App<P>, req: &Request, caller: &Caller, segs: &[String]) -> Result<Response, ApiError> {
    let owner = caller.owner();
    let children = req.header("depth").map(str::trim) != Some("0");
    let mut body = String::new();
    match resolve(app, segs, owner.as_deref()).await? {
        Target::Root => {
            body.push_str(&folder_xml("/dav/", "imgbed", app.now_ms));
            if children {
                for f in app.pool.folders(owner.as_deref()).await? {
                    body.push_str(&folder_xml(&href(Some(&f.name), None), &f.name, f.modified));
                }
                if caller.list {
                    list_files(app, None, owner.as_deref(), &mut body).await?;
                }
            }
        }
        Target::Folder(name) => {
            body.push_str(&folder_xml(&href(Some(&name), None), &name, app.now_ms));
            if children && caller.list {
                list_files(app, Some(&name), owner.as_deref(), &mut body).await?;
            }
        }
        Target::File { album, entry, shown } if caller.list => body.push_str(&file_xml(album.as_deref(), &shown, &entry)),
        Target::File { .. } | Target::Missing { .. } => return Err(ApiError::not_found(format!("nothing at {}", req.url.path()))),
    }
    Ok(multistatus(&body))
}

/// The files of a folder, a catalog page at a time, each under the name it shows.
async fn list_files<P: Platform>(app: &App<P>, album: Option<&str>, owner: Option<&str>, body: &mut String) -> Result<(), ApiError> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut after = None;
    let mut listed = 0;
    loop {
        let page = app.pool.files(album, owner, after.take(), PAGE).await?;
        for e in &page {
            let k = seen.entry(e.name.to_lowercase()).or_default();
            *k += 1;
            body.push_str(&file_xml(album, &numbered(&e.name, *k), e));
        }
        listed += page.len();
        match page.last() {
            Some(last) if page.len() == PAGE as usize && listed < MAX_LISTED => after = Some((last.uploaded, last.id.clone())),
            _ => return Ok(()),
        }
    }
}

/// Files the Mac and Windows write beside real ones (resource forks, folder settings): taken
/// and forgotten, so a copy from Finder does not fail on them.
fn is_os_litter(name: &str) -> bool {
    name.starts_with("._") || [".DS_Store", "Thumbs.db", "desktop.ini"].contains(&name)
}

/// `PUT`: an upload through the same ingest as every other. Finder first writes an empty file
/// and then its bytes; the empty one is answered and nothing is stored. Bytes the caller stored
/// already are that image, moved here under this name (an image is in one album).
async fn put<P: Platform>(app: &App<P>, req: &mut Request, caller: &Caller, segs: &[String]) -> Result<Response, ApiError> {
    if !caller.upload {
        return Err(ApiError::forbidden("this token may not upload"));
    }
    let owner = caller.owner();
    let (album, name) = match resolve(app, segs, owner.as_deref()).await? {
        Target::Missing { album, name } => (album, name),
        Target::File { album, entry, .. } => (album, entry.name),
        Target::Root | Target::Folder(_) => return Err(ApiError::new(405, "method_not_allowed", "a folder cannot be written: PUT a file into it")),
    };
    if req.body.is_empty() || is_os_litter(&name) {
        return Ok(Response::empty(201));
    }
    let bytes = std::mem::take(&mut req.body);
    let mut form = UploadForm { files: vec![IncomingFile { name: Some(name.clone()), bytes }], ..Default::default() };
    if let Some(a) = &album {
        form.fields.push(("album".into(), a.clone()));
    }
    let uploaded = store_all(app, req, form).await?;
    let mut meta = uploaded[0].meta.clone();
    if uploaded[0].repeat && meta.name != name {
        // The bytes were stored already (the album moved with the upload): the image is one
        // file, and it is now the one this path names.
        let mut fields = serde_json::Map::new();
        fields.insert("name".into(), serde_json::Value::String(name.clone()));
        let renamed = crate::library::edit::apply_changes(&meta, &fields)?;
        crate::library::update(app, &meta, &renamed).await?;
        meta = renamed;
    }
    let same: Vec<Entry> = app.pool.named(album.as_deref(), &meta.name, owner.as_deref()).await?;
    let k = same.iter().position(|e| e.id == meta.id).map_or(1, |i| i + 1);
    let status = if uploaded[0].repeat { 204 } else { 201 };
    Ok(Response::empty(status).with_header("location", href(album.as_deref(), Some(&numbered(&meta.name, k)))))
}

async fn delete<P: Platform>(app: &App<P>, req: &Request, caller: &Caller, segs: &[String]) -> Result<Response, ApiError> {
    let owner = caller.owner();
    match resolve(app, segs, owner.as_deref()).await? {
        Target::File { entry, .. } => {
            if !caller.delete {
                return Err(ApiError::forbidden("this token may not delete (it lacks the delete scope)"));
            }
            let meta = crate::library::load(app, &entry.id).await?.ok_or_else(|| ApiError::not_found("that file is gone already"))?;
            if !caller.uploader.owns(meta.owner.as_deref()) {
                return Err(ApiError::forbidden("this token may delete only the images it uploaded"));
            }
            crate::library::remove(app, &meta).await?;
            Ok(Response::empty(204))
        }
        Target::Folder(name) => match caller.upload && app.pool.remove_folder(&name).await? {
            true => Ok(Response::empty(204)),
            false => Err(ApiError::new(409, "folder_not_empty", format!("the folder {name:?} holds images: delete them first"))),
        },
        Target::Missing { .. } if segs.last().is_some_and(|n| is_os_litter(n)) => Ok(Response::empty(204)),
        Target::Missing { .. } => Err(ApiError::not_found(format!("nothing at {}", req.url.path()))),
        Target::Root => Err(ApiError::forbidden("the drive itself cannot be deleted")),
    }
}

/// `MKCOL`: a new, empty album (folders are one level deep).
async fn mkcol<P: Platform>(app: &App<P>, caller: &Caller, segs: &[String]) -> Result<Response, ApiError> {
    if !caller.upload {
        return Err(ApiError::forbidden("this token may not make folders"));
    }
    let [name] = segs else {
        return Err(ApiError::forbidden("folders are albums, one level deep: make this one at the top"));
    };
    check_label("a folder (album) name", name)?;
    let owner = caller.owner();
    match app.pool.make_folder(name, owner.as_deref(), app.now_ms).await? {
        true => Ok(Response::empty(201)),
        false => Err(ApiError::new(405, "exists", format!("the folder {name:?} exists already"))),
    }
}

/// `MOVE`: renames a file, or moves it to another folder (the admin, or a token with the delete
/// scope for its own images: a move takes the file away from where others find it).
async fn moved<P: Platform>(app: &App<P>, req: &Request, caller: &Caller, segs: &[String]) -> Result<Response, ApiError> {
    let owner = caller.owner();
    let Target::File { entry, .. } = resolve(app, segs, owner.as_deref()).await? else {
        return Err(ApiError::forbidden("only files move: to rename a folder, move its files into a new one"));
    };
    if !caller.delete {
        return Err(ApiError::forbidden("this token may not move files (it lacks the delete scope)"));
    }
    let destination = req.header("destination").ok_or_else(|| ApiError::bad_request("no_destination", "MOVE needs a Destination header"))?;
    let to = req.url.join(destination).map_err(|_| ApiError::bad_request("bad_destination", "the Destination header is not a URL"))?;
    let to_segs = crate::http::segments(&to);
    let Some(("dav", rest)) = to_segs.split_first().map(|(first, rest)| (first.as_str(), rest)) else {
        return Err(ApiError::new(502, "bad_destination", "the destination is not on this drive"));
    };
    let (album, name, replaced) = match resolve(app, rest, owner.as_deref()).await? {
        Target::Missing { album, name } => (album, name, None),
        Target::File { album, entry: there, .. } if req.header("overwrite").map(str::trim) != Some("F") => (album, there.name.clone(), Some(there)),
        Target::File { .. } => return Err(ApiError::new(412, "exists", "a file of that name is there, and Overwrite: F")),
        Target::Root | Target::Folder(_) => return Err(ApiError::new(409, "bad_destination", "move a file to a file name, not onto a folder")),
    };
    let before = crate::library::load(app, &entry.id).await?.ok_or_else(|| ApiError::not_found("that file is gone already"))?;
    if !caller.uploader.owns(before.owner.as_deref()) {
        return Err(ApiError::forbidden("this token may move only the images it uploaded"));
    }
    if let Some(there) = replaced.filter(|t| t.id != before.id) {
        if let Some(old) = crate::library::load(app, &there.id).await?.filter(|m| caller.uploader.owns(m.owner.as_deref())) {
            crate::library::remove(app, &old).await?;
        }
    }
    let mut fields = serde_json::Map::new();
    fields.insert("album".into(), album.map_or(serde_json::Value::Null, serde_json::Value::String));
    fields.insert("name".into(), serde_json::Value::String(name));
    let after = crate::library::edit::apply_changes(&before, &fields)?;
    crate::library::update(app, &before, &after).await?;
    Ok(Response::empty(201))
}

/// A lock that locks nothing, in the shape clients read (`Lock-Token` and the lock discovery).
fn lock(req: &Request) -> Response {
    let token = format!("opaquelocktoken:{}", crate::base::ids::new_id());
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:prop xmlns:D=\"DAV:\"><D:lockdiscovery><D:activelock><D:locktype><D:write/></D:locktype><D:lockscope><D:exclusive/></D:lockscope><D:depth>0</D:depth><D:timeout>Second-3600</D:timeout><D:locktoken><D:href>{token}</D:href></D:locktoken><D:lockroot><D:href>{}</D:href></D:lockroot></D:activelock></D:lockdiscovery></D:prop>",
        xml(req.url.path())
    );
    Response::new(200, "application/xml; charset=utf-8", body.into_bytes()).with_header("lock-token", format!("<{token}>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_numbered_as_file_managers_do() {
        assert_eq!(numbered("photo.jpg", 1), "photo.jpg");
        assert_eq!(numbered("photo.jpg", 2), "photo (2).jpg");
        assert_eq!(numbered("README", 3), "README (3)");
        assert_eq!(unnumbered("photo (2).jpg"), Some(("photo.jpg".into(), 2)));
        assert_eq!(unnumbered("my trip (12).png"), Some(("my trip.png".into(), 12)));
        assert_eq!(unnumbered("photo (1).jpg"), None, "the first copy has no number");
        assert_eq!(unnumbered("photo (x).jpg"), None);
        assert_eq!(unnumbered("photo.jpg"), None);
    }

    #[test]
    fn hrefs_escape_what_paths_cannot_hold() {
        assert_eq!(href(Some("my trip"), Some("a&b #1.jpg")), "/dav/my%20trip/a%26b%20%231.jpg");
        assert_eq!(href(None, Some("猫.png")), "/dav/%E7%8C%AB.png");
        assert_eq!(href(Some("cats"), None), "/dav/cats/");
    }
}
