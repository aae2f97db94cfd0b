//! Alt text and suggested tags for new uploads, written by a captioning model on Replicate
//! (`CAPTION_MODEL`) from the same small preview the classifier sees. One prediction per new
//! image, within `CAPTION_DEADLINE_S`; any failure stores the image without a caption (the log
//! says why), and without the setting or a token nothing is called.

use crate::app::{App, Platform};
use crate::services::replicate::Replicate;
use crate::upload::ingest::Prepared;
use base64::Engine;

/// The alt text and suggested tags for `file`, when a captioner is set and answers in time.
pub async fn caption<P: Platform>(app: &App<P>, file: &Prepared) -> Option<(String, Vec<String>)> {
    let c = &app.config;
    let model = c.caption_model.as_deref()?;
    let Some(token) = c.replicate_api_token.as_deref() else {
        crate::base::log::error("CAPTION_MODEL needs REPLICATE_API_TOKEN: uploads get no alt text");
        return None;
    };
    let preview = crate::upload::moderation::preview(app, file).await?;
    let uri = format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(preview));
    let client = Replicate { http: &app.http, base: &c.replicate_api_base, token };
    match client.caption(model, &uri, c.caption_deadline_s * 1000).await {
        Ok(caption) => Some(caption),
        Err(e) => {
            crate::base::log::error(&format!("caption: {}: {}", e.code, e.message));
            None
        }
    }
}
