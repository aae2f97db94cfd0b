//! A small client for Replicate's HTTP API: run `black-forest-labs/flux-schnell` and download
//! its image, or classify an upload with an NSFW model. `POST /v1/models/{owner}/{model}/predictions` with `Prefer: wait`; if the answer
//! is not final, poll `urls.get` until `succeeded`, `failed` or `canceled` or the deadline;
//! then fetch `output[0]` (Replicate deletes outputs after an hour, so the caller stores it).
//! Every failure becomes a clear [`ApiError`]; Replicate's own texts go to the log only.

use crate::base::error::ApiError;
use crate::platform::upstream::{Http, OutRequest, UpstreamError};
use serde_json::{json, Value};

const MODEL: &str = "black-forest-labs/flux-schnell";
/// Between polls of an unfinished prediction.
const POLL_MS: u64 = 500;
/// Prediction and status answers are small JSON documents.
const MAX_JSON_BYTES: u64 = 256 << 10;

pub struct Replicate<'a, H: Http> {
    pub http: &'a H,
    pub base: &'a str,
    pub token: &'a str,
}

fn upstream(what: &str, detail: impl std::fmt::Display) -> ApiError {
    crate::base::log::error(&format!("replicate: {what}: {detail}"));
    ApiError::new(502, "generation_failed", format!("the image model could not make this picture ({what}): try again later")).with_retry_after(30)
}

/// What to do with a non-success status from Replicate.
fn refused(status: u16, body: &[u8]) -> ApiError {
    crate::base::log::error(&format!("replicate answered {status}: {}", String::from_utf8_lossy(&body[..body.len().min(500)])));
    match status {
        401 | 403 => ApiError::new(502, "generation_failed", "the image model refused the token: check REPLICATE_API_TOKEN"),
        402 => ApiError::new(502, "generation_failed", "the image model account has no credit left"),
        422 => ApiError::new(502, "generation_failed", "the image model did not accept the request"),
        _ => ApiError::new(502, "generation_failed", "the image model is unavailable: try again later"),
    }
}

/// Seconds Replicate asks to wait after a 429 (`retry_after` in the body, or the header).
fn retry_after(headers: &crate::http::Headers, body: &[u8]) -> u64 {
    let from_body = serde_json::from_slice::<Value>(body).ok().and_then(|v| v.get("retry_after")?.as_f64());
    let from_header = headers.get("retry-after").and_then(|v| v.trim().parse::<f64>().ok());
    from_body.or(from_header).unwrap_or(1.0).ceil().clamp(1.0, 60.0) as u64
}

impl<H: Http> Replicate<'_, H> {
    fn request(&self, method: &'static str, url: &str, body: Option<&Value>, timeout_ms: u64) -> OutRequest {
        let mut headers = vec![("authorization".to_string(), format!("Bearer {}", self.token))];
        let mut out = OutRequest { method, url: url.to_string(), headers: Vec::new(), body: Vec::new(), manual_redirects: true, timeout_ms };
        if let Some(b) = body {
            headers.push(("content-type".into(), "application/json".into()));
            headers.push(("prefer".into(), format!("wait={}", (timeout_ms / 1000).clamp(1, 60))));
            out.body = b.to_string().into_bytes();
        }
        out.headers = headers;
        out
    }

    /// Runs a prediction to its end and returns it (`status: succeeded`). `model` is
    /// `owner/name` (an official model: `POST /v1/models/{owner}/{name}/predictions`) or
    /// `owner/name:version` (`POST /v1/predictions` with the version). `deadline_ms` bounds
    /// everything: the wait, polling and a rate-limit pause.
    pub async fn predict(&self, model: &str, input: Value, deadline_ms: u64) -> Result<Value, ApiError> {
        let end = self.http.now_ms() + deadline_ms;
        let left = || end.saturating_sub(self.http.now_ms());
        let (create, body) = match model.split_once(':') {
            Some((_, version)) => (format!("{}/v1/predictions", self.base), json!({"version": version, "input": input})),
            None => (format!("{}/v1/models/{model}/predictions", self.base), json!({"input": input})),
        };
        let mut throttled = false;
        let mut prediction = loop {
            let resp = self.send(self.request("POST", &create, Some(&body), left()), deadline_ms).await?;
            match resp.status {
                200..=202 => break parse(&resp.body)?,
                // Honoured once: a second 429 is the caller's to retry, not ours to storm.
                429 if !throttled && retry_after(&resp.headers, &resp.body) * 1000 < left() => {
                    throttled = true;
                    self.http.sleep(retry_after(&resp.headers, &resp.body) * 1000).await;
                }
                429 => {
                    return Err(ApiError::new(503, "generation_busy", "the image model is rate-limited: try again shortly")
                        .with_retry_after(retry_after(&resp.headers, &resp.body)))
                }
                s => return Err(refused(s, &resp.body)),
            }
        };
        loop {
            match prediction.get("status").and_then(Value::as_str).unwrap_or("") {
                "succeeded" => return Ok(prediction),
                "failed" | "canceled" => {
                    let why = prediction.get("error").map(|e| e.to_string()).unwrap_or_default();
                    if why.to_ascii_lowercase().contains("nsfw") {
                        return Err(ApiError::new(422, "unsafe_prompt", "the image model refused these words as unsafe: choose others"));
                    }
                    return Err(upstream("the prediction failed", why));
                }
                _ => {}
            }
            if left() <= POLL_MS {
                return Err(deadline(deadline_ms));
            }
            self.http.sleep(POLL_MS).await;
            let url = prediction.pointer("/urls/get").and_then(Value::as_str).ok_or_else(|| upstream("status", "no urls.get"))?.to_string();
            let resp = self.send(self.request("GET", &url, None, left()), deadline_ms).await?;
            if resp.status != 200 {
                return Err(refused(resp.status, &resp.body));
            }
            prediction = parse(&resp.body)?;
        }
    }

    /// Generates one picture with flux-schnell and returns its bytes (at most `max_bytes`).
    pub async fn flux(&self, prompt: &str, aspect_ratio: &str, deadline_ms: u64, max_bytes: u64) -> Result<Vec<u8>, ApiError> {
        let end = self.http.now_ms() + deadline_ms;
        let input = json!({
            "prompt": prompt, "aspect_ratio": aspect_ratio, "output_format": "webp", "output_quality": 90,
            "num_outputs": 1, "go_fast": true,
        });
        let prediction = self.predict(MODEL, input, deadline_ms).await?;
        let left = end.saturating_sub(self.http.now_ms());
        let output = prediction
            .get("output")
            .and_then(|o| o.as_array().and_then(|a| a.first()).or(Some(o)))
            .and_then(Value::as_str)
            .ok_or_else(|| upstream("output", "no output URL"))?
            .to_string();
        let download = OutRequest { timeout_ms: left.max(1), ..OutRequest::get(&output) };
        let resp = self.http.send(download, max_bytes).await.map_err(|e| match e {
            UpstreamError::TimedOut => deadline(deadline_ms),
            UpstreamError::TooLarge => upstream("download", "the output is larger than the upload limit"),
            UpstreamError::Unreachable(why) => upstream("download", why),
        })?;
        if resp.status != 200 {
            return Err(upstream("download", format!("HTTP {} (outputs are deleted after an hour)", resp.status)));
        }
        Ok(resp.body)
    }

    /// Classifies an image (a `data:` URI, so it never has to be public) with an NSFW model;
    /// returns the label and how unsafe it is, 0 to 1.
    pub async fn classify(&self, model: &str, image_data_uri: &str, deadline_ms: u64) -> Result<(String, f64), ApiError> {
        let prediction = self.predict(model, json!({"image": image_data_uri}), deadline_ms).await?;
        verdict(prediction.get("output").unwrap_or(&Value::Null)).ok_or_else(|| upstream("classifier output", "no label or score"))
    }

    /// One sentence of alt text and up to five suggested tags for a picture (a `data:` URI),
    /// from a captioning or vision-language model (see [`read_caption`]).
    pub async fn caption(&self, model: &str, image_data_uri: &str, deadline_ms: u64) -> Result<(String, Vec<String>), ApiError> {
        let prediction = self.predict(model, json!({"image": image_data_uri, "prompt": CAPTION_PROMPT}), deadline_ms).await?;
        read_caption(prediction.get("output").unwrap_or(&Value::Null)).ok_or_else(|| upstream("caption output", "no text"))
    }

    /// Sends a JSON request within what is left of the deadline.
    async fn send(&self, req: OutRequest, deadline_ms: u64) -> Result<crate::platform::upstream::OutResponse, ApiError> {
        if req.timeout_ms == 0 {
            return Err(deadline(deadline_ms));
        }
        self.http.send(req, MAX_JSON_BYTES).await.map_err(|e| match e {
            UpstreamError::TimedOut => deadline(deadline_ms),
            e => upstream("request", format!("{e:?}")),
        })
    }
}

/// Reads a classifier's output: `"nsfw"`/`"normal"` (falcons-ai/nsfw_image_detection), a bare
/// score, `{"nsfw": 0.9}`-style objects, or `[{"label", "score"}]` lists. A label it does not
/// know is no verdict (`None`): what a model means by `"sexual"` or `"racy"` is not guessed, and
/// the image waits for the admin.
fn verdict(output: &Value) -> Option<(String, f64)> {
    const UNSAFE: [&str; 6] = ["nsfw", "porn", "hentai", "sexy", "explicit", "unsafe"];
    const SAFE: [&str; 5] = ["normal", "safe", "sfw", "neutral", "drawings"];
    let known = |l: &str| -> Option<bool> {
        let l = l.to_ascii_lowercase();
        UNSAFE.contains(&l.as_str()).then_some(true).or(SAFE.contains(&l.as_str()).then_some(false))
    };
    let named = |score: f64| (if score >= 0.5 { "nsfw" } else { "normal" }.to_string(), score.clamp(0.0, 1.0));
    match output {
        Value::String(label) => known(label).map(|bad| (label.to_ascii_lowercase(), if bad { 1.0 } else { 0.0 })),
        Value::Number(n) => n.as_f64().map(named),
        Value::Bool(b) => Some(named(if *b { 1.0 } else { 0.0 })),
        Value::Array(items) => {
            // How unsafe: the highest unsafe score, or one minus the highest safe one.
            let mut worst: Option<f64> = None;
            for item in items {
                let bad = known(item.get("label")?.as_str()?)?;
                let score = item.get("score")?.as_f64()?;
                let unsafe_score = if bad { score } else { 1.0 - score };
                worst = Some(worst.map_or(unsafe_score, |w| w.max(unsafe_score)));
            }
            worst.map(named)
        }
        Value::Object(o) => {
            ["nsfw_score", "nsfw", "score", "unsafe"].iter().find_map(|k| o.get(*k)).and_then(verdict).or_else(|| o.get("label").and_then(verdict))
        }
        Value::Null => None,
    }
}

/// What a vision-language model is asked; captioners that take no prompt (BLIP) ignore it.
pub const CAPTION_PROMPT: &str =
    "Write one short sentence of alt text describing this image for someone who cannot see it. Then, on a new line, write 'Tags:' followed by up to five one-word tags, comma-separated.";

/// Reads a caption: a string (`"Caption: a dog on a couch"`, BLIP) or a list of text pieces
/// (LLaVA and Moondream stream their words), the first line the alt text and a `Tags:` line,
/// when there is one, the suggested tags (at most five, each a valid tag).
pub fn read_caption(output: &Value) -> Option<(String, Vec<String>)> {
    let text = match output {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(Value::as_str).collect(),
        Value::Object(o) => o.get("caption").or(o.get("text")).and_then(Value::as_str)?.to_string(),
        _ => return None,
    };
    let lower = text.to_lowercase();
    let (said, tags) = match lower.find("tags:") {
        Some(at) => (&text[..at], &text[at + 5..]),
        None => (text.as_str(), ""),
    };
    let said = said.trim().trim_start_matches("Caption:").trim_start_matches("caption:");
    let alt: String = said.lines().map(str::trim).find(|l| !l.is_empty())?.trim_matches(['"', '\'']).chars().take(300).collect();
    let mut suggested: Vec<String> = Vec::new();
    for t in tags.split([',', '\n', '#']).map(|t| t.trim().trim_end_matches('.')) {
        for tag in crate::index::pools::parse_tags([t]).unwrap_or_default() {
            if !suggested.contains(&tag) {
                suggested.push(tag);
            }
        }
    }
    suggested.truncate(5);
    (!alt.is_empty()).then_some((alt, suggested))
}

fn parse(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| upstream("answer", e))
}

fn deadline(ms: u64) -> ApiError {
    ApiError::new(504, "generation_timeout", format!("the image model did not finish within {} s: try again shortly", ms.div_ceil(1000).max(1)))
        .with_retry_after(5)
}

#[cfg(test)]
mod tests {

    #[test]
    fn captions_in_the_shapes_models_answer() {
        let blip = read_caption(&json!("Caption: a dog sitting on a couch")).unwrap();
        assert_eq!(blip, ("a dog sitting on a couch".to_string(), vec![]));
        let llava = read_caption(&json!(["A ", "lighthouse ", "at dusk.", "\n", "Tags: Lighthouse, sea, dusk, #coast, sky, extra"])).unwrap();
        assert_eq!(llava.0, "A lighthouse at dusk.");
        assert_eq!(llava.1, ["lighthouse", "sea", "dusk", "coast", "sky"], "at most five, lower case");
        assert_eq!(read_caption(&json!({"caption": "\"Two cats.\""})).unwrap().0, "Two cats.");
        assert_eq!(read_caption(&json!("   ")), None);
        assert_eq!(read_caption(&json!(42)), None);
    }

    use super::*;
    use crate::adapters::memory::MemoryHttp;

    const BASE: &str = "https://r.test";
    const CREATE: &str = "https://r.test/v1/models/black-forest-labs/flux-schnell/predictions";

    fn answer(http: &MemoryHttp, url: &str, status: u16, body: Value) {
        http.routes.borrow_mut().insert(url.into(), (status, vec![("content-type".into(), "application/json".into())], body.to_string().into_bytes()));
    }

    fn run(http: &MemoryHttp, deadline_ms: u64) -> Result<Vec<u8>, ApiError> {
        pollster::block_on(Replicate { http: &http, base: BASE, token: "r8_x" }.flux("a sloth", "4:3", deadline_ms, 1 << 20))
    }

    #[test]
    fn verdicts_from_unknown_labels_are_none() {
        assert_eq!(verdict(&json!("NSFW")), Some(("nsfw".into(), 1.0)));
        assert_eq!(verdict(&json!("normal")), Some(("normal".into(), 0.0)));
        assert_eq!(verdict(&json!({"nsfw": 0.9})), Some(("nsfw".into(), 0.9)));
        assert_eq!(verdict(&json!([{"label": "nsfw", "score": 0.2}, {"label": "normal", "score": 0.8}])), Some(("normal".into(), 0.2)));
        assert_eq!(verdict(&json!([{"label": "normal", "score": 0.1}])), Some(("nsfw".into(), 0.9)));
        for unknown in [json!("sexual"), json!({"label": "nudity"}), json!([{"label": "racy", "score": 0.9}]), json!({"verdict": "ok"}), json!([])] {
            assert_eq!(verdict(&unknown), None, "{unknown}");
        }
    }

    #[test]
    fn waits_then_downloads_the_output() {
        let http = MemoryHttp::default();
        answer(&http, CREATE, 201, json!({"status": "succeeded", "output": ["https://r.test/out.webp"], "urls": {"get": "https://r.test/p/1"}}));
        http.routes.borrow_mut().insert("https://r.test/out.webp".into(), (200, vec![], b"IMAGE".to_vec()));
        assert_eq!(run(&http, 5000).unwrap(), b"IMAGE");
        let sent = http.sent.borrow();
        let create = &sent[0];
        assert!(create.headers.iter().any(|(k, v)| k == "authorization" && v == "Bearer r8_x"));
        assert!(create.headers.iter().any(|(k, v)| k == "prefer" && v.starts_with("wait=")));
        let body: Value = serde_json::from_slice(&create.body).unwrap();
        assert_eq!(body["input"]["aspect_ratio"], "4:3");
        assert_eq!(body["input"]["num_outputs"], 1);
        assert!(!sent[1].headers.iter().any(|(k, _)| k == "authorization"), "the token is not sent to the output host");
    }

    #[test]
    fn polls_until_the_deadline() {
        let http = MemoryHttp::default();
        answer(&http, CREATE, 201, json!({"status": "starting", "urls": {"get": "https://r.test/p/1"}}));
        answer(&http, "https://r.test/p/1", 200, json!({"status": "processing", "urls": {"get": "https://r.test/p/1"}}));
        let e = run(&http, 3000).unwrap_err();
        assert_eq!((e.status, e.code), (504, "generation_timeout"));
        assert!(http.clock.get() <= 3000, "slept past the deadline: {}", http.clock.get());
        assert!(http.sent.borrow().len() >= 4, "polled");
    }

    #[test]
    fn failures_map_to_clear_errors() {
        for (status, body, code, want) in [
            (201, json!({"status": "failed", "error": "NSFW content detected. Try again."}), 422, "unsafe_prompt"),
            (201, json!({"status": "failed", "error": "CUDA out of memory"}), 502, "generation_failed"),
            (401, json!({"detail": "Invalid token"}), 502, "generation_failed"),
            (402, json!({"detail": "Insufficient credit"}), 502, "generation_failed"),
            (429, json!({"detail": "throttled", "retry_after": 1}), 503, "generation_busy"),
        ] {
            let http = MemoryHttp::default();
            answer(&http, CREATE, status, body);
            let e = run(&http, 5000).unwrap_err();
            assert_eq!((e.status, e.code), (code, want), "{status}");
            assert!(!e.message.contains("CUDA") && !e.message.contains("r8_x"), "{}", e.message);
            if code == 503 {
                assert_eq!(e.retry_after, Some(1));
                assert_eq!(http.sent.borrow().len(), 2, "one retry after a 429, no more");
            }
        }
    }
}
