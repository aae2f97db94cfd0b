//! Ready-made client configuration: `GET /api/clients/sharex.sxcu`.

use crate::access::auth;
use crate::app::{App, Platform};
use crate::http::{Request, Response};
use serde_json::json;

/// A ShareX custom uploader for this host over the Lsky API. With a valid upload token in the
/// request (`?key=`), the file is ready to import; otherwise (the admin token included: a file
/// people pass around must never hold it) it holds a placeholder.
pub async fn sharex<P: Platform>(app: &App<P>, req: &Request) -> Response {
    let base = app.base_url(req);
    let known = crate::access::guard::uploader(app, req, None).await.is_ok_and(|u| matches!(u, auth::Uploader::Token(_)));
    let token = auth::presented_token(req).filter(|_| known).unwrap_or_else(|| "YOUR_UPLOAD_TOKEN".to_string());
    let host = req.url.host_str().unwrap_or("imgbed").to_string();
    let sxcu = json!({
        "Version": "16.1.0",
        "Name": format!("imgbed ({host})"),
        "DestinationType": "ImageUploader, FileUploader",
        "RequestMethod": "POST",
        "RequestURL": format!("{base}/api/v1/upload"),
        "Headers": {"Authorization": format!("Bearer {token}")},
        "Body": "MultipartFormData",
        "FileFormName": "file",
        "URL": "{json:data.links.url}",
        "ThumbnailURL": "{json:data.links.thumbnail_url}",
        "DeletionURL": "{json:data.links.delete_url}",
        "ErrorMessage": "{json:message}",
    });
    let body = serde_json::to_string_pretty(&sxcu).unwrap_or_default();
    Response::new(200, "application/json; charset=utf-8", body.into_bytes())
        .with_header("content-disposition", format!("attachment; filename=\"imgbed-{host}.sxcu\""))
        .with_header("cache-control", "no-store")
}
