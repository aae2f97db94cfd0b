//! Reading uploads out of requests (multipart or raw body), and the Telegraph-Image answer
//! `[{"src":"/file/<id>.<ext>"}]` on `POST /upload`.

use crate::app::{App, Platform};
use crate::auth;
use crate::config::MAX_FILES_PER_REQUEST;
use crate::error::ApiError;
use crate::http::{Request, Response};
use crate::ingest::{prepare, IncomingFile, UploadOptions};
use crate::library::{self, Stored};
use crate::multipart;
use crate::sniff::Format;
use serde_json::json;

/// Form fields whose parts are files even when the client sent no filename.
const FILE_FIELDS: [&str; 6] = ["file", "files", "smfile", "source", "image", "list"];

/// The files and text fields of an upload request.
#[derive(Debug, Default)]
pub struct UploadForm {
    pub files: Vec<IncomingFile>,
    pub fields: Vec<(String, String)>,
}

impl UploadForm {
    /// A text field from the form, else from the query string.
    pub fn field(&self, req: &Request, name: &str) -> Option<String> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).or_else(|| req.query(name))
    }
}

/// Takes a request apart: `multipart/form-data` (any field names, several files), or the image
/// itself as the body (`PUT /upload/<name>`, `curl --data-binary`).
pub fn read_form(req: &Request, raw_name: Option<&str>) -> Result<UploadForm, ApiError> {
    if let Some(boundary) = multipart::boundary(req.content_type()) {
        let mut form = UploadForm::default();
        for part in multipart::parse(&req.body, &boundary)? {
            let is_file = part.filename.is_some()
                || FILE_FIELDS.contains(&part.name.trim_end_matches("[]"))
                || Format::detect(part.data).is_some();
            if is_file {
                form.files.push(IncomingFile { name: part.filename.clone(), bytes: part.data.to_vec() });
            } else {
                form.fields.push((part.name.clone(), part.text()));
            }
        }
        return Ok(form);
    }
    if req.body.is_empty() {
        return Err(ApiError::bad_request(
            "no_file",
            "no file in the request: send multipart/form-data with a 'file' field, or the image bytes as the body",
        ));
    }
    let name = raw_name.map(str::to_string).or_else(|| req.query("filename"));
    Ok(UploadForm { files: vec![IncomingFile { name, bytes: req.body.clone() }], fields: Vec::new() })
}

/// The upload core every API shape shares: authorise, check every file, then store them all.
pub async fn store_all<P: Platform>(app: &App<P>, req: &Request, form: UploadForm) -> Result<Vec<Stored>, ApiError> {
    auth::check_upload(&app.config, req, form.field(req, "key").as_deref())?;
    let options = UploadOptions::from_fields(|k| form.field(req, k))?;
    if form.files.is_empty() {
        return Err(ApiError::bad_request("no_file", "the form has no file in it: send the image in a field named 'file'"));
    }
    if form.files.len() > MAX_FILES_PER_REQUEST {
        return Err(ApiError::new(413, "too_many_files", format!("at most {MAX_FILES_PER_REQUEST} files per request")));
    }
    let many = form.files.len() > 1;
    let prepared = form
        .files
        .into_iter()
        .map(|f| {
            let name = f.name.clone();
            prepare(f, &app.config, &options).map_err(|mut e| {
                if let (true, Some(n)) = (many, name) {
                    e.message = format!("{n}: {}", e.message);
                }
                e
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut stored = Vec::with_capacity(prepared.len());
    for p in prepared {
        stored.push(library::save(app, p, &options).await?);
    }
    Ok(stored)
}

/// `POST /upload` in the Telegraph-Image shape.
pub async fn telegraph<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    let stored = store_all(app, req, read_form(req, None)?).await?;
    let base = if req.query("returnFormat").as_deref() == Some("full") { app.base_url(req) } else { String::new() };
    let list: Vec<_> = stored.iter().map(|s| json!({"src": format!("{base}{}", s.meta.file_path())})).collect();
    Ok(Response::json(200, &json!(list)))
}
