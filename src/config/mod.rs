//! Settings, read from Worker vars and secrets (`wrangler.toml` `[vars]`, `.dev.vars`,
//! `wrangler secret put`). Every setting has a default that works for a personal instance.

pub mod settings;
pub mod watermark;

use crate::base::error::ApiError;

#[derive(Debug, Clone)]
pub struct Config {
    /// Tokens accepted for uploads (`UPLOAD_TOKENS`, comma separated).
    pub upload_tokens: Vec<String>,
    /// Token for the admin API and console (`ADMIN_TOKEN`); also accepted for uploads.
    pub admin_token: Option<String>,
    pub allow_anonymous_upload: bool,
    pub max_upload_bytes: u64,
    /// Accept `POST /__faults` to inject storage faults (`TEST_FAULTS`; tests only).
    pub test_faults: bool,
    /// Formats uploads may have (`ALLOWED_FORMATS`, e.g. `jpeg,png,webp`); every known one when empty.
    pub allowed_formats: Vec<crate::sniff::Format>,
    /// Uploads per token (or anonymous address) per UTC day, 0 for no limit (`QUOTA_DAILY_UPLOADS`).
    pub quota_daily_uploads: u64,
    /// Bytes per token (or anonymous address) per UTC day, 0 for no limit (`QUOTA_DAILY_BYTES`).
    pub quota_daily_bytes: u64,
    /// Remove GPS and other identifying EXIF from JPEG uploads (`STRIP_EXIF`).
    pub strip_exif: bool,
    /// What happens to new uploads before the public sees them (`REVIEW_MODE`).
    pub review_mode: ReviewMode,
    /// Replicate model that classifies uploads in `auto` review (`MODERATION_MODEL`,
    /// `owner/name` or `owner/name:version`).
    pub moderation_model: String,
    /// Score from which an upload counts as unsafe (`MODERATION_THRESHOLD`, 0 to 1).
    pub moderation_threshold: f64,
    /// Seconds an upload waits for the classifier (`MODERATION_DEADLINE_S`).
    pub moderation_deadline_s: u64,
    /// Replicate model that writes alt text for new uploads (none: nothing is called).
    pub caption_model: Option<String>,
    pub caption_deadline_s: u64,
    /// The mark on what the public sees (`WATERMARK_TEXT` and its position, size, opacity).
    pub watermark: Option<watermark::Mark>,
    /// Original views for the public are a watermarked copy too.
    pub watermark_originals: bool,
    /// Unsafe uploads are blocked, or left pending for a person (`MODERATION_ACTION`).
    pub moderation_blocks: bool,
    /// Bot tokens for the Telegram channel (`TELEGRAM_BOT_TOKEN`, comma separated).
    pub telegram_bot_tokens: Vec<String>,
    /// The chat the bots post files to (`TELEGRAM_CHAT_ID`).
    pub telegram_chat_id: Option<String>,
    /// Base URL of the Bot API (`TELEGRAM_API_BASE`).
    pub telegram_api_base: String,
    /// Where new uploads go (`STORAGE_CHANNEL`).
    pub storage: Storage,
    /// When Telegram fails, store in R2 instead of refusing (`TELEGRAM_FALLBACK_R2`).
    pub telegram_fallback_r2: bool,
    /// Seconds an upload may spend on Telegram, waits for rate limits included (`TELEGRAM_DEADLINE_S`).
    pub telegram_deadline_s: u64,
    /// The secret Telegram sends with every webhook call (`TELEGRAM_WEBHOOK_SECRET`); no bot without it.
    pub telegram_webhook_secret: Option<String>,
    /// Telegram user ids that may upload by sending the bot a picture (`TELEGRAM_ALLOWED_USERS`).
    pub telegram_allowed_users: Vec<i64>,
    /// Sites that may embed images (`ALLOWED_REFERERS`: hosts, `*.example.com`); all when empty.
    pub allowed_referers: Vec<String>,
    /// Refused hotlinks get a small picture saying so instead of a bare 403 (`HOTLINK_IMAGE`).
    pub hotlink_image: bool,
    /// Console login (`ADMIN_USER`, default `admin`, and `ADMIN_PASSWORD`).
    pub admin_user: String,
    pub admin_password: Option<String>,
    /// How long a console login lasts (`ADMIN_SESSION_HOURS`).
    pub admin_session_hours: u64,
    /// Key for derived secrets such as delete tokens (`SECRET_KEY`).
    pub secret_key: Option<String>,
    /// Base of every link imgbed hands out (`PUBLIC_URL`); the request's origin when unset.
    pub public_url: Option<String>,
    /// When set, new transform variants need a `sig` (`TRANSFORM_SIGNING_KEY`).
    pub transform_signing_key: Option<String>,
    /// Who makes variants (`TRANSFORM_ENGINE`): Cloudflare Images, the wasm pipeline, or the
    /// binding when one is bound (`auto`).
    pub transform_engine: Engine,
    /// Widths anyone may ask for without a signature (`TRANSFORM_WIDTHS`, e.g. `320,640,1280`).
    pub transform_widths: Vec<u32>,
    /// Most variants one image may have (`MAX_VARIANTS_PER_IMAGE`).
    pub max_variants_per_image: u32,
    /// Compress uploads unless the client says `compress=false` (`COMPRESS_UPLOADS`).
    pub compress_uploads: bool,
    /// JPEG quality for upload compression (`COMPRESS_QUALITY`).
    pub compress_quality: u8,
    /// `host:port` pairs upload-by-URL may fetch from although they are not public
    /// (`URL_UPLOAD_ALLOW_HOSTS`, e.g. an intranet image server).
    pub url_upload_allow_hosts: Vec<String>,
    /// Replicate API token (`REPLICATE_API_TOKEN`): placeholders are generated with
    /// flux-schnell when set, drawn locally otherwise.
    pub replicate_api_token: Option<String>,
    /// Base URL of the Replicate API (`REPLICATE_API_BASE`).
    pub replicate_api_base: String,
    /// How the words of a placeholder become a prompt (`PLACEHOLDER_PROMPT_TEMPLATE`, `{words}`).
    pub placeholder_prompt_template: String,
    /// Seconds a generation may take, polling included (`PLACEHOLDER_DEADLINE_S`).
    pub placeholder_deadline_s: u64,
    /// New generations per day, UTC (`PLACEHOLDER_DAILY_LIMIT`).
    pub placeholder_daily_limit: u64,
    /// Of those, how many one address may start (`PLACEHOLDER_DAILY_PER_ADDRESS`; 0: no share).
    pub placeholder_daily_per_address: u64,
    /// New generations need an upload token (`PLACEHOLDER_REQUIRE_TOKEN`).
    pub placeholder_require_token: bool,
    /// Generated placeholders join the random pools (`PLACEHOLDERS_IN_RANDOM`).
    pub placeholders_in_random: bool,
    /// Host names that answer with random images (`RANDOM_HOSTS`, see [`crate::index::pools::host_route`]).
    pub random_hosts: Option<String>,
}

/// The transform engine setting. `Auto` is the Images binding when one is bound: it works
/// outside the isolate, so a new variant costs no Worker CPU; otherwise the wasm pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Auto,
    Images,
    Wasm,
}

/// `REVIEW_MODE`: `off` publishes at once, `manual` holds every upload for approval, `auto`
/// asks a classifier and holds (or blocks) what it flags, and anything it could not judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewMode {
    Off,
    Manual,
    Auto,
}

impl ReviewMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewMode::Off => "off",
            ReviewMode::Manual => "manual",
            ReviewMode::Auto => "auto",
        }
    }
}

/// `STORAGE_CHANNEL`: where new uploads' bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    R2,
    Telegram,
    /// A copy in each; served from R2, from Telegram when the R2 object is missing.
    Both,
}

/// Clean, stock-photo-like placeholders: the subject alone, centred, in soft light.
pub const DEFAULT_PROMPT_TEMPLATE: &str =
    "A clean, professional stock photograph of {words}. Centered subject, soft natural light, simple uncluttered background, sharp focus, pleasant colours, no text, no watermark.";

impl Default for Config {
    fn default() -> Self {
        Config {
            upload_tokens: Vec::new(),
            admin_token: None,
            allow_anonymous_upload: false,
            max_upload_bytes: 5 * 1024 * 1024,
            allowed_formats: Vec::new(),
            test_faults: false,
            quota_daily_uploads: 0,
            quota_daily_bytes: 0,
            strip_exif: true,
            review_mode: ReviewMode::Off,
            moderation_model: "falcons-ai/nsfw_image_detection".into(),
            moderation_threshold: 0.5,
            moderation_deadline_s: 20,
            caption_model: None,
            caption_deadline_s: 10,
            watermark: None,
            watermark_originals: false,
            moderation_blocks: false,
            allowed_referers: Vec::new(),
            hotlink_image: false,
            telegram_bot_tokens: Vec::new(),
            telegram_chat_id: None,
            telegram_api_base: "https://api.telegram.org".into(),
            storage: Storage::R2,
            telegram_fallback_r2: true,
            telegram_deadline_s: 60,
            telegram_webhook_secret: None,
            telegram_allowed_users: Vec::new(),
            admin_user: "admin".into(),
            admin_password: None,
            admin_session_hours: 12,
            secret_key: None,
            public_url: None,
            random_hosts: None,
            url_upload_allow_hosts: Vec::new(),
            replicate_api_token: None,
            replicate_api_base: "https://api.replicate.com".into(),
            placeholder_prompt_template: DEFAULT_PROMPT_TEMPLATE.into(),
            placeholder_deadline_s: 25,
            placeholder_daily_limit: 100,
            placeholder_daily_per_address: 10,
            placeholder_require_token: false,
            placeholders_in_random: false,
            compress_uploads: false,
            compress_quality: 82,
            transform_signing_key: None,
            transform_engine: Engine::Auto,
            transform_widths: Vec::new(),
            max_variants_per_image: 50,
        }
    }
}

impl Config {
    /// Whether uploads of `format` are allowed (`ALLOWED_FORMATS`).
    pub fn accepts(&self, format: crate::sniff::Format) -> bool {
        self.allowed_formats.is_empty() || self.allowed_formats.contains(&format)
    }

    /// Builds the configuration from a variable lookup; a malformed value is the operator's
    /// mistake, reported as a 500 that names the variable.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Config, ApiError> {
        let get = |name: &str| var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let flag = |name: &str, default: bool| -> Result<bool, ApiError> {
            match get(name).map(|v| v.to_ascii_lowercase()) {
                None => Ok(default),
                Some(v) if ["true", "1", "yes", "on"].contains(&v.as_str()) => Ok(true),
                Some(v) if ["false", "0", "no", "off"].contains(&v.as_str()) => Ok(false),
                Some(v) => Err(bad(name, &v, "true or false")),
            }
        };
        let list = |name: &str| -> Vec<String> {
            get(name).map(|v| v.split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect()).unwrap_or_default()
        };
        let number = |name: &str, default: u64, lo: u64, hi: u64| -> Result<u64, ApiError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v.parse().ok().filter(|n| (lo..=hi).contains(n)).ok_or_else(|| bad(name, &v, &format!("a number from {lo} to {hi}"))),
            }
        };
        let d = Config::default();
        // Every part is read (and checked) whether or not the text is set.
        let mark = watermark::Mark {
            text: get("WATERMARK_TEXT").map(|t| t.trim().chars().take(100).collect()).unwrap_or_default(),
            image: match get("WATERMARK_IMAGE") {
                None => None,
                Some(id) if crate::base::ids::is_valid_id(id.trim()) => Some(id.trim().to_string()),
                Some(v) => return Err(bad("WATERMARK_IMAGE", &v, "the id of an uploaded image (the name in its /file/<id>.<ext> URL)")),
            },
            position: match get("WATERMARK_POSITION") {
                None => watermark::Position::BottomRight,
                Some(v) => watermark::Position::parse(&v).ok_or_else(|| bad("WATERMARK_POSITION", &v, &watermark::Position::NAMES.join(", ")))?,
            },
            size: number("WATERMARK_SIZE", 25, 1, 100)? as u8,
            opacity: match get("WATERMARK_OPACITY") {
                None => 0.6,
                Some(v) => v.parse().ok().filter(|o: &f32| (0.0..=1.0).contains(o)).ok_or_else(|| bad("WATERMARK_OPACITY", &v, "a number from 0 to 1"))?,
            },
        };
        let watermark = (!mark.text.is_empty() || mark.image.is_some()).then_some(mark);
        let config = Config {
            upload_tokens: list("UPLOAD_TOKENS"),
            admin_token: get("ADMIN_TOKEN"),
            allow_anonymous_upload: flag("ALLOW_ANONYMOUS_UPLOAD", d.allow_anonymous_upload)?,
            max_upload_bytes: match get("MAX_UPLOAD_BYTES") {
                None => d.max_upload_bytes,
                Some(v) => v
                    .parse()
                    .ok()
                    .filter(|&n| n > 0 && n <= crate::budget::MAX_UPLOAD_BYTES_CEILING)
                    .ok_or_else(|| bad("MAX_UPLOAD_BYTES", &v, "a number of bytes up to 26214400 (25 MiB)"))?,
            },
            allowed_formats: list("ALLOWED_FORMATS")
                .iter()
                .map(|f| crate::sniff::Format::from_name(f).ok_or_else(|| bad("ALLOWED_FORMATS", f, "a list of jpeg, png, gif, webp, avif, bmp, ico")))
                .collect::<Result<_, _>>()?,
            test_faults: flag("TEST_FAULTS", false)?,
            quota_daily_uploads: number("QUOTA_DAILY_UPLOADS", 0, 0, u64::MAX)?,
            quota_daily_bytes: number("QUOTA_DAILY_BYTES", 0, 0, u64::MAX)?,
            strip_exif: flag("STRIP_EXIF", d.strip_exif)?,
            review_mode: match get("REVIEW_MODE").map(|v| v.to_ascii_lowercase()).as_deref() {
                None if flag("REQUIRE_REVIEW", false)? => ReviewMode::Manual,
                None | Some("off") => ReviewMode::Off,
                Some("manual") => ReviewMode::Manual,
                Some("auto") => ReviewMode::Auto,
                Some(v) => return Err(bad("REVIEW_MODE", v, "off, manual or auto")),
            },
            moderation_model: get("MODERATION_MODEL").unwrap_or(d.moderation_model),
            moderation_threshold: match get("MODERATION_THRESHOLD") {
                None => d.moderation_threshold,
                Some(v) => v.parse().ok().filter(|t: &f64| (0.0..=1.0).contains(t)).ok_or_else(|| bad("MODERATION_THRESHOLD", &v, "a number from 0 to 1"))?,
            },
            moderation_deadline_s: number("MODERATION_DEADLINE_S", d.moderation_deadline_s, 1, 60)?,
            caption_model: get("CAPTION_MODEL"),
            caption_deadline_s: number("CAPTION_DEADLINE_S", d.caption_deadline_s, 1, 60)?,
            watermark,
            watermark_originals: flag("WATERMARK_ORIGINALS", false)?,
            moderation_blocks: match get("MODERATION_ACTION").map(|v| v.to_ascii_lowercase()).as_deref() {
                None | Some("pending") => false,
                Some("block") => true,
                Some(v) => return Err(bad("MODERATION_ACTION", v, "block or pending")),
            },
            allowed_referers: list("ALLOWED_REFERERS"),
            hotlink_image: flag("HOTLINK_IMAGE", d.hotlink_image)?,
            telegram_bot_tokens: list("TELEGRAM_BOT_TOKEN"),
            telegram_chat_id: get("TELEGRAM_CHAT_ID"),
            telegram_api_base: get("TELEGRAM_API_BASE").map_or(d.telegram_api_base, |u| u.trim_end_matches('/').to_string()),
            storage: match get("STORAGE_CHANNEL").map(|v| v.to_ascii_lowercase()).as_deref() {
                None | Some("r2") => Storage::R2,
                Some("telegram") => Storage::Telegram,
                Some("r2+telegram") => Storage::Both,
                Some(v) => return Err(bad("STORAGE_CHANNEL", v, "r2, telegram or r2+telegram")),
            },
            telegram_fallback_r2: flag("TELEGRAM_FALLBACK_R2", d.telegram_fallback_r2)?,
            telegram_deadline_s: number("TELEGRAM_DEADLINE_S", d.telegram_deadline_s, 5, 300)?,
            telegram_webhook_secret: get("TELEGRAM_WEBHOOK_SECRET"),
            telegram_allowed_users: list("TELEGRAM_ALLOWED_USERS")
                .iter()
                .map(|u| u.parse().map_err(|_| bad("TELEGRAM_ALLOWED_USERS", u, "numeric Telegram user ids, comma separated")))
                .collect::<Result<_, _>>()?,
            admin_user: get("ADMIN_USER").unwrap_or(d.admin_user),
            admin_password: get("ADMIN_PASSWORD"),
            admin_session_hours: number("ADMIN_SESSION_HOURS", d.admin_session_hours, 1, 24 * 30)?,
            secret_key: get("SECRET_KEY"),
            public_url: get("PUBLIC_URL").map(|u| u.trim_end_matches('/').to_string()),
            random_hosts: get("RANDOM_HOSTS"),
            url_upload_allow_hosts: list("URL_UPLOAD_ALLOW_HOSTS"),
            replicate_api_token: get("REPLICATE_API_TOKEN"),
            replicate_api_base: get("REPLICATE_API_BASE").map_or(d.replicate_api_base, |u| u.trim_end_matches('/').to_string()),
            placeholder_prompt_template: match get("PLACEHOLDER_PROMPT_TEMPLATE") {
                Some(t) if !t.contains("{words}") => return Err(bad("PLACEHOLDER_PROMPT_TEMPLATE", &t, "a text containing {words}")),
                Some(t) => t,
                None => d.placeholder_prompt_template,
            },
            placeholder_deadline_s: number("PLACEHOLDER_DEADLINE_S", d.placeholder_deadline_s, 1, 120)?,
            placeholder_daily_limit: number("PLACEHOLDER_DAILY_LIMIT", d.placeholder_daily_limit, 0, 1_000_000)?,
            placeholder_daily_per_address: number("PLACEHOLDER_DAILY_PER_ADDRESS", d.placeholder_daily_per_address, 0, 1_000_000)?,
            placeholder_require_token: flag("PLACEHOLDER_REQUIRE_TOKEN", d.placeholder_require_token)?,
            placeholders_in_random: flag("PLACEHOLDERS_IN_RANDOM", d.placeholders_in_random)?,
            compress_uploads: flag("COMPRESS_UPLOADS", d.compress_uploads)?,
            compress_quality: match get("COMPRESS_QUALITY") {
                None => d.compress_quality,
                Some(v) => v.parse().ok().filter(|q| (1..=100).contains(q)).ok_or_else(|| bad("COMPRESS_QUALITY", &v, "a number from 1 to 100"))?,
            },
            transform_signing_key: get("TRANSFORM_SIGNING_KEY"),
            transform_engine: match get("TRANSFORM_ENGINE").map(|v| v.to_ascii_lowercase()).as_deref() {
                None | Some("auto") => Engine::Auto,
                Some("images") => Engine::Images,
                Some("wasm") => Engine::Wasm,
                Some(v) => return Err(bad("TRANSFORM_ENGINE", v, "auto, images or wasm")),
            },
            transform_widths: match get("TRANSFORM_WIDTHS") {
                None => Vec::new(),
                Some(v) => {
                    v.split(',').map(|w| w.trim().parse().map_err(|_| bad("TRANSFORM_WIDTHS", &v, "comma-separated widths"))).collect::<Result<_, _>>()?
                }
            },
            max_variants_per_image: match get("MAX_VARIANTS_PER_IMAGE") {
                None => d.max_variants_per_image,
                Some(v) => v.parse().map_err(|_| bad("MAX_VARIANTS_PER_IMAGE", &v, "a number"))?,
            },
        };
        if config.storage != Storage::R2 && !config.telegram_configured() {
            return Err(bad("STORAGE_CHANNEL", "telegram", "TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID to be set as well"));
        }
        Ok(config)
    }

    /// Whether the Telegram channel can be used: a bot and a chat.
    pub fn telegram_configured(&self) -> bool {
        !self.telegram_bot_tokens.is_empty() && self.telegram_chat_id.is_some()
    }

    /// The channels uploads may name (`channel=`).
    pub fn channels(&self) -> Vec<&'static str> {
        let mut c = vec!["r2"];
        if self.telegram_configured() {
            c.push("telegram");
        }
        c
    }

    /// Whether the console and admin API can be used at all: with neither a password nor a
    /// token set they answer 503 rather than stand open.
    pub fn admin_configured(&self) -> bool {
        self.admin_password.is_some() || self.admin_token.is_some()
    }

    /// Whether an upload is compressed: what it asked for (`compress=`), else `COMPRESS_UPLOADS`.
    pub fn compresses(&self, asked: Option<bool>) -> bool {
        asked.unwrap_or(self.compress_uploads)
    }

    /// The largest file taken in: larger when it is to be compressed, since the result is
    /// what must fit `MAX_UPLOAD_BYTES`.
    pub fn input_limit(&self, compress: bool) -> u64 {
        match compress {
            true => self.max_upload_bytes.max(crate::budget::MAX_COMPRESS_INPUT_BYTES),
            false => self.max_upload_bytes,
        }
    }

    /// Upper bound for a whole request body, counted while it is read.
    pub fn max_body_bytes(&self) -> u64 {
        crate::budget::max_body_bytes(self.max_upload_bytes)
    }
}

fn bad(name: &str, value: &str, expected: &str) -> ApiError {
    ApiError::new(500, "bad_config", format!("setting {name}={value:?} is invalid: expected {expected}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn defaults_without_vars() {
        let c = Config::from_vars(|_| None).unwrap();
        assert_eq!(c.max_upload_bytes, 5_242_880);
        assert!(c.strip_exif && !c.allow_anonymous_upload);
    }

    #[test]
    fn parses_values() {
        let c = Config::from_vars(vars(&[("UPLOAD_TOKENS", "a, b,,"), ("ALLOW_ANONYMOUS_UPLOAD", "TRUE"), ("PUBLIC_URL", "https://i.example.com/")])).unwrap();
        assert_eq!(c.upload_tokens, vec!["a", "b"]);
        assert!(c.allow_anonymous_upload);
        assert_eq!(c.public_url.as_deref(), Some("https://i.example.com"));
    }

    #[test]
    fn bad_values_name_the_setting() {
        let e = Config::from_vars(vars(&[("MAX_UPLOAD_BYTES", "5MB")])).unwrap_err();
        assert!(e.message.contains("MAX_UPLOAD_BYTES"));
        for (name, value) in [
            ("ALLOWED_FORMATS", "jpeg, tiff"),
            ("QUOTA_DAILY_UPLOADS", "ten"),
            ("QUOTA_DAILY_BYTES", "-1"),
            ("TRANSFORM_ENGINE", "sharp"),
            ("PLACEHOLDER_DAILY_PER_ADDRESS", "lots"),
        ] {
            let e = Config::from_vars(vars(&[(name, value)])).unwrap_err();
            assert!(e.message.contains(name), "{}", e.message);
        }
        let c = Config::from_vars(vars(&[("ALLOWED_FORMATS", "JPG, png")])).unwrap();
        assert!(c.accepts(crate::sniff::Format::Jpeg) && !c.accepts(crate::sniff::Format::Gif));
        assert_eq!(Config::from_vars(vars(&[("TRANSFORM_ENGINE", "WASM")])).unwrap().transform_engine, Engine::Wasm);
        assert_eq!(Config::from_vars(vars(&[])).unwrap().transform_engine, Engine::Auto);
    }
}
