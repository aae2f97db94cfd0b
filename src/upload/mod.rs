//! The upload use case every client protocol shares: reading files out of a request
//! (multipart or raw body), counting them against limits and quotas, and storing a batch
//! all-or-nothing ([`store_all`]).

pub mod caption;
pub mod ingest;
pub mod moderation;
pub mod save;

use crate::access::auth::Uploader;
use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::budget::MAX_FILES_PER_REQUEST;
use crate::config::Config;
use crate::http::multipart;
use crate::http::Request;
use crate::index::catalog::Usage;
use crate::index::record::ImageMeta;
use crate::library;
use crate::library::view::Links;
use crate::platform::rate::Limit;
use crate::sniff::Format;
use crate::upload::ingest::{compress_with_images, prepare_from, IncomingFile, UploadOptions};

/// Form fields whose parts are files even when the client sent no filename.
const FILE_FIELDS: [&str; 6] = ["file", "files", "smfile", "source", "image", "list"];

/// The files and text fields of an upload request.
#[derive(Debug, Default)]
pub struct UploadForm {
    pub files: Vec<IncomingFile>,
    pub fields: Vec<(String, String)>,
    /// The answer shows MD5 and SHA-1 (Lsky, Chevereto).
    pub legacy_digests: bool,
    /// One upload was counted against the rate limit and the quota before its source was
    /// fetched by URL (see [`count_fetch`]); it is not counted again.
    pub prepaid: bool,
}

/// An upload by URL counts against the rate limit and the daily quota before anything is
/// fetched, and stays counted when the fetch fails: a fetch costs the server whether or not
/// it brings an image.
pub async fn count_fetch<P: Platform>(app: &App<P>, req: &Request, uploader: &Uploader, form: &mut UploadForm) -> Result<(), ApiError> {
    if *uploader != Uploader::Admin {
        crate::access::limits::check(app, req, Limit::Uploads).await?;
    }
    crate::access::limits::charge(app, req, uploader, Usage { uploads: 1, bytes: 0 }).await?;
    form.prepaid = true;
    Ok(())
}

impl UploadForm {
    /// A text field from the form, else from the query string.
    pub fn field(&self, req: &Request, name: &str) -> Option<String> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).or_else(|| req.query(name))
    }
}

/// Takes a request apart: `multipart/form-data` (any field names, several files), a URL-encoded
/// or JSON form (fields only), or the image itself as the body (`PUT /upload/<name>`,
/// `curl --data-binary`). The body moves out of the request: a raw body, or the one file of a
/// form, becomes the file without a copy (in a Worker every copy of an upload counts against
/// the isolate's 128 MB). Files over the limit are refused before anything is copied.
pub fn read_form(config: &Config, req: &mut Request, raw_name: Option<&str>) -> Result<UploadForm, ApiError> {
    let body = std::mem::take(&mut req.body);
    let content_type = req.content_type().split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if content_type == "application/x-www-form-urlencoded" {
        let fields = url::form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        return Ok(UploadForm { fields, ..UploadForm::default() });
    }
    if content_type == "application/json" {
        let value: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| ApiError::bad_request("malformed_json", format!("the JSON body could not be read: {e}")))?;
        let fields = value.as_object().map(|o| o.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect()).unwrap_or_default();
        return Ok(UploadForm { fields, ..UploadForm::default() });
    }
    if let Some(boundary) = multipart::boundary(req.content_type()) {
        let mut form = UploadForm::default();
        // Where each file lies in the body, taken out once every part has been read.
        let mut files: Vec<(Option<String>, std::ops::Range<usize>)> = Vec::new();
        for part in multipart::parse(&body, &boundary)? {
            // A file field without a filename may still be text: Chevereto scripts send
            // `source` as base64 or a URL in a plain form field.
            let is_file = part.filename.is_some()
                || Format::detect(part.data).is_some()
                || (FILE_FIELDS.contains(&part.name.trim_end_matches("[]")) && std::str::from_utf8(part.data).is_err());
            if is_file {
                let start = part.data.as_ptr() as usize - body.as_ptr() as usize;
                files.push((part.filename.clone(), start..start + part.data.len()));
            } else {
                form.fields.push((part.name.clone(), part.text()));
            }
        }
        // The limit depends on the fields, which may come after the files.
        let compress = UploadOptions::from_fields(|k| form.field(req, k)).map(|o| o.compress).unwrap_or(None);
        let limit = config.input_limit(config.compresses(compress));
        if let Some((name, range)) = files.iter().find(|(_, r)| r.len() as u64 > limit) {
            let mut e = ApiError::too_large_compressible(limit, range.len() as u64, config.input_limit(true));
            if let Some(name) = name {
                e.message = format!("{name}: {}", e.message);
            }
            return Err(e);
        }
        form.files = match files.len() {
            1 => {
                let (name, range) = files.remove(0);
                let mut bytes = body;
                bytes.truncate(range.end);
                bytes.drain(..range.start);
                vec![IncomingFile { name, bytes }]
            }
            _ => files.into_iter().map(|(name, range)| IncomingFile { name, bytes: body[range].to_vec() }).collect(),
        };
        return Ok(form);
    }
    if body.is_empty() {
        return Err(ApiError::bad_request("no_file", "no file in the request: send multipart/form-data with a 'file' field, or the image bytes as the body"));
    }
    let name = raw_name.map(str::to_string).or_else(|| req.query("filename"));
    Ok(UploadForm { files: vec![IncomingFile { name, bytes: body }], ..UploadForm::default() })
}

/// One stored upload, with everything the API shapes hand back.
#[derive(Debug, Clone)]
pub struct Uploaded {
    pub meta: ImageMeta,
    pub links: Links,
    /// `<id>.<delete token>`: the secret that Lsky and SM.MS clients send back to delete.
    pub delete_key: Option<String>,
    /// A small preview for clients that show thumbnails.
    pub thumb_url: String,
    /// Size as uploaded; differs from `meta.bytes` when compression made it smaller.
    pub original_bytes: u64,
    /// These bytes were already this uploader's image: `meta` is that image.
    pub repeat: bool,
}

/// `<id>.<token>` → (id, token).
pub fn split_delete_key(key: &str) -> Option<(&str, &str)> {
    key.split_once('.').filter(|(id, token)| !id.is_empty() && !token.is_empty())
}

/// The upload core every API shape shares: authorise, check every file, then store them all.
/// A batch is all or nothing: if file n cannot be stored, files 1..n-1 that this request
/// stored are taken back, so the error's "nothing was stored" is true.
pub async fn store_all<P: Platform>(app: &App<P>, req: &Request, form: UploadForm) -> Result<Vec<Uploaded>, ApiError> {
    let uploader = crate::access::guard::uploader(app, req, form.field(req, "key").as_deref()).await?;
    if uploader != Uploader::Admin && !form.prepaid {
        crate::access::limits::check(app, req, Limit::Uploads).await?;
    }
    let options = UploadOptions { legacy_digests: form.legacy_digests, ..UploadOptions::from_fields(|k| form.field(req, k))? };
    if form.files.is_empty() {
        return Err(ApiError::bad_request("no_file", "the form has no file in it: send the image in a field named 'file'"));
    }
    if form.files.len() > MAX_FILES_PER_REQUEST {
        return Err(ApiError::new(413, "too_many_files", format!("at most {MAX_FILES_PER_REQUEST} files per request")));
    }
    let many = form.files.len() > 1;
    let named = |name: &Option<String>, mut e: ApiError| {
        if let (true, Some(n)) = (many, name) {
            e.message = format!("{n}: {}", e.message);
        }
        e
    };
    let mut prepared = Vec::with_capacity(form.files.len());
    for f in form.files {
        let name = f.name.clone();
        let (f, compressed_from) = compress_with_images(app, f, &options).await.map_err(|e| named(&name, e))?;
        prepared.push(prepare_from(f, &app.config, &options, compressed_from).await.map_err(|e| named(&name, e))?);
    }
    let add = Usage { uploads: prepared.len() as u64 - u64::from(form.prepaid), bytes: prepared.iter().map(|p| p.bytes.len() as u64).sum() };
    let charged = crate::access::limits::charge(app, req, &uploader, add).await?;
    let base = app.base_url(req);
    let mut uploaded: Vec<Uploaded> = Vec::with_capacity(prepared.len());
    let mut new_here: Vec<ImageMeta> = Vec::new();
    for p in prepared {
        let original_bytes = p.original_bytes;
        let name = Some(p.name.clone());
        let legacy = (p.md5.clone(), p.sha1.clone());
        let stored = match crate::upload::save::save(app, p, &options, &uploader).await {
            Ok(s) => s,
            Err(e) => {
                for meta in &new_here {
                    if let Err(undo) = library::remove(app, meta).await {
                        crate::base::log::error(&format!("batch upload: could not take back {}: {undo}", meta.id));
                    }
                }
                crate::access::limits::refund(app, charged).await;
                let mut e = named(&name, e);
                if many {
                    e.message = format!("{} Nothing from this batch was stored.", e.message);
                }
                return Err(e);
            }
        };
        let repeat = stored.deduped;
        if !repeat {
            new_here.push(stored.meta.clone());
        }
        let mut stored = stored;
        if stored.meta.md5.is_empty() {
            // A repeat of an image stored without them: these bytes are those bytes.
            (stored.meta.md5, stored.meta.sha1) = legacy;
        }
        let links = Links::new(&app.config, &base, &stored.meta, stored.delete_token.as_deref());
        uploaded.push(Uploaded {
            delete_key: stored.delete_token.map(|t| format!("{}.{t}", stored.meta.id)),
            thumb_url: format!("{}?{}", links.url, crate::library::variants::THUMB_QUERY),
            original_bytes,
            repeat,
            links,
            meta: stored.meta,
        });
    }
    Ok(uploaded)
}
