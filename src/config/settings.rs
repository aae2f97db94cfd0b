//! Every setting in one table, ripgrep-style: it is what `Config::from_vars` reads, what the
//! README's configuration table and `.dev.vars.example` say (a test checks all three agree;
//! `IMGBED_WRITE_DOCS=1 cargo test settings` rewrites the two files from it).

/// Where a setting is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `[vars]` in `wrangler.toml`.
    Var,
    /// `.dev.vars` locally, `wrangler secret put` on Cloudflare.
    Secret,
    /// A binding block in `wrangler.toml`.
    Binding,
}

pub struct Setting {
    pub name: &'static str,
    pub kind: Kind,
    /// As the README shows it: a literal in backticks, or words.
    pub default: &'static str,
    pub meaning: &'static str,
}

const fn s(name: &'static str, kind: Kind, default: &'static str, meaning: &'static str) -> Setting {
    Setting { name, kind, default, meaning }
}

use Kind::{Binding, Secret, Var};

pub const SETTINGS: &[Setting] = &[
    s("UPLOAD_TOKENS", Secret, "—", "upload tokens, comma separated"),
    s("ADMIN_TOKEN", Secret, "—", "admin token (also accepted for uploads)"),
    s("SECRET_KEY", Secret, "—", "key for delete links; without it, repeat uploads of the same bytes get no delete link"),
    s(
        "URL_UPLOAD_ALLOW_HOSTS",
        Var,
        "—",
        "`host:port` pairs upload-by-URL may fetch although they are private (e.g. `10.0.0.5:80`); everything else must be public http(s) on ports 80/443",
    ),
    s("ALLOW_ANONYMOUS_UPLOAD", Var, "`false`", "accept uploads without a token"),
    s("MAX_UPLOAD_BYTES", Var, "`5242880`", "largest accepted file (5 MiB); at most 25 MiB, so one request fits the isolate"),
    s("STRIP_EXIF", Var, "`true`", "remove identifying metadata from JPEGs (per upload: `keep_exif=true`)"),
    s("ALLOWED_FORMATS", Var, "all", "formats uploads may have: `jpeg`, `png`, `gif`, `webp`, `avif`, `bmp`, `ico`"),
    s("QUOTA_DAILY_UPLOADS", Var, "`0` (none)", "uploads per token (or anonymous address) per UTC day"),
    s("QUOTA_DAILY_BYTES", Var, "`0` (none)", "bytes per token (or anonymous address) per UTC day"),
    s("RATE_LIMIT_*", Binding, "see *Limits*", "`[[ratelimits]]` blocks in `wrangler.toml`: uploads, new variants, new placeholders, logins per address"),
    s("TEST_FAULTS", Var, "`false`", "tests only: enables `POST /__faults` to inject storage faults; never set it in a deployment"),
    s("ALLOWED_REFERERS", Var, "—", "sites that may embed images (hosts, `*.example.com`); any when unset"),
    s("HOTLINK_IMAGE", Var, "`false`", "refused hotlinks get a small \"hotlinking not allowed\" picture instead of a JSON 403"),
    s("STORAGE_CHANNEL", Var, "`r2`", "where uploads go: `r2`, `telegram` or `r2+telegram`"),
    s("TELEGRAM_BOT_TOKEN", Secret, "—", "bot token(s), comma separated; every bot must be an admin of the chat"),
    s("TELEGRAM_CHAT_ID", Secret, "—", "the chat (channel) the files go to, e.g. `-1001234567890`"),
    s("TELEGRAM_API_BASE", Var, "`https://api.telegram.org`", "the Bot API (tests point it at a local stand-in)"),
    s("TELEGRAM_FALLBACK_R2", Var, "`true`", "store in R2 when Telegram fails; `false` answers 503 instead"),
    s("TELEGRAM_DEADLINE_S", Var, "`60`", "seconds an upload may spend on Telegram, rate-limit waits included (5–300)"),
    s("TELEGRAM_WEBHOOK_SECRET", Secret, "—", "the `secret_token` given to `setWebhook`: the bot takes uploads at `/telegram/webhook` only with it"),
    s(
        "TELEGRAM_ALLOWED_USERS",
        Var,
        "— (nobody)",
        "Telegram user ids that may upload by sending the bot a picture, comma separated (`/start` tells a user theirs)",
    ),
    s("ADMIN_PASSWORD", Secret, "—", "password of the console at `/admin`"),
    s("ADMIN_USER", Var, "`admin`", "user name of the console"),
    s("ADMIN_SESSION_HOURS", Var, "`12`", "how long a console login lasts (1–720)"),
    s("REVIEW_MODE", Var, "`off`", "`off`, `manual` (uploads wait for approval) or `auto` (a classifier decides); `REQUIRE_REVIEW=true` still means `manual`"),
    s("REQUIRE_REVIEW", Var, "—", "the old name of `REVIEW_MODE=manual`: `true` still means it"),
    s("MODERATION_MODEL", Var, "`falcons-ai/nsfw_image_detection`", "the Replicate classifier for `auto` review (`owner/name` or `owner/name:version`)"),
    s("MODERATION_THRESHOLD", Var, "`0.5`", "score (0–1) from which an upload counts as unsafe"),
    s("MODERATION_ACTION", Var, "`pending`", "what happens to unsafe uploads: `pending` (a person decides) or `block`"),
    s("MODERATION_DEADLINE_S", Var, "`20`", "seconds an upload waits for the classifier (1–60); after that it stays pending"),
    s("CAPTION_MODEL", Var, "unset (off)", "a captioning model on Replicate (`owner/name[:version]`): each new upload gets alt text and suggested tags"),
    s("CAPTION_DEADLINE_S", Var, "`10`", "seconds an upload waits for its caption (1–60); after that it is stored without one"),
    s("WATERMARK_TEXT", Var, "unset (off)", "text marked on every variant the public sees (the admin's are clean); up to 100 characters, Chinese too"),
    s("WATERMARK_IMAGE", Var, "unset", "the id of an uploaded image (a PNG logo) to mark with instead of text"),
    s("WATERMARK_POSITION", Var, "`bottom-right`", "where: `top-left`, `top`, `top-right`, `left`, `center`, `right`, `bottom-left`, `bottom`, `bottom-right`"),
    s("WATERMARK_SIZE", Var, "`25`", "the mark's width, per cent of the picture's width (1–100)"),
    s("WATERMARK_OPACITY", Var, "`0.6`", "how opaque the mark is (0–1)"),
    s("WATERMARK_ORIGINALS", Var, "`false`", "original views for the public are a watermarked copy too (the stored file stays untouched)"),
    s("PUBLIC_URL", Var, "request origin", "base of the links handed out, e.g. `https://img.example.com`"),
    s("COMPRESS_UPLOADS", Var, "`false`", "compress every upload unless the client says `compress=false`"),
    s("COMPRESS_QUALITY", Var, "`82`", "JPEG quality for upload compression"),
    s("TRANSFORM_SIGNING_KEY", Secret, "—", "new transform variants need a `sig`"),
    s("TRANSFORM_WIDTHS", Var, "—", "widths anyone may transform to, e.g. `320,640,1280`"),
    s("TRANSFORM_ENGINE", Var, "`auto`", "who makes variants: `auto` (Cloudflare Images when the `[images]` binding is there, else wasm), `images`, `wasm`"),
    s("MAX_VARIANTS_PER_IMAGE", Var, "`50`", "most transform variants R2 keeps per image (more are made, not stored)"),
    s("RANDOM_HOSTS", Var, "—", "host names that answer with random images, e.g. `hpic.example.com=landscape`"),
    s("REPLICATE_API_TOKEN", Secret, "—", "generate placeholders with flux-schnell; drawn locally without it"),
    s("REPLICATE_API_BASE", Var, "`https://api.replicate.com`", "Replicate's API (tests point it at a local stand-in)"),
    s("PLACEHOLDER_PROMPT_TEMPLATE", Var, "stock-photo style", "the prompt, with `{words}` where the slug's words go"),
    s("PLACEHOLDER_DEADLINE_S", Var, "`25`", "seconds a generation may take, polling included (1–120)"),
    s("PLACEHOLDER_DAILY_LIMIT", Var, "`100`", "new generations per UTC day"),
    s("PLACEHOLDER_DAILY_PER_ADDRESS", Var, "`10`", "of those, how many one address (IPv6: its /64) may start; `0`: no share"),
    s("PLACEHOLDER_REQUIRE_TOKEN", Var, "`false`", "new generations need an upload token"),
    s("PLACEHOLDERS_IN_RANDOM", Var, "`false`", "generated placeholders join the `/random` pools"),
];

/// The secrets `scripts/dev` fills with fresh random values on its first run.
const DEV_SECRETS: [&str; 4] = ["UPLOAD_TOKENS", "ADMIN_TOKEN", "SECRET_KEY", "ADMIN_PASSWORD"];

/// The README's configuration table, one row per setting.
pub fn readme_table() -> String {
    let mut out = String::from("| name | kind | default | meaning |\n|---|---|---|---|\n");
    for s in SETTINGS {
        let kind = match s.kind {
            Var => "var",
            Secret => "secret",
            Binding => "binding",
        };
        out += &format!("| `{}` | {kind} | {} | {} |\n", s.name, s.default, s.meaning);
    }
    out
}

/// `.dev.vars.example`: every secret, the ones `scripts/dev` fills set, the others commented.
pub fn dev_vars_example() -> String {
    let mut out = String::from(
        "# Secrets for `wrangler dev`. scripts/dev copies this file to .dev.vars with fresh random values\n\
         # the first time it runs; on Cloudflare set each with `npx wrangler secret put NAME`.\n\
         # Made from src/config/settings.rs: `IMGBED_WRITE_DOCS=1 cargo test settings` rewrites it.\n",
    );
    for s in SETTINGS.iter().filter(|s| s.kind == Secret) {
        out += &format!("\n# {}\n", s.meaning.replace('`', ""));
        match DEV_SECRETS.contains(&s.name) {
            true => out += &format!("{}=change-me-{}\n", s.name, s.name.to_lowercase().replace('_', "-")),
            false => out += &format!("# {}=\n", s.name),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::cell::RefCell;

    #[test]
    fn config_reads_exactly_the_settings_in_the_table() {
        let read = RefCell::new(Vec::new());
        let _ = Config::from_vars(|name| {
            read.borrow_mut().push(name.to_string());
            None
        });
        let mut read = read.into_inner();
        read.sort();
        read.dedup();
        let mut table: Vec<String> = SETTINGS.iter().filter(|s| s.kind != Binding).map(|s| s.name.to_string()).collect();
        table.sort();
        assert_eq!(read, table, "Config::from_vars and SETTINGS name different settings");
    }

    #[test]
    fn the_defaults_the_table_shows_are_the_defaults() {
        let none = format!("{:?}", Config::from_vars(|_| None).unwrap());
        for s in SETTINGS.iter().filter(|s| s.kind != Binding) {
            // A literal default is the first thing in its cell, in backticks.
            let Some(value) = s.default.strip_prefix('`').and_then(|d| d.split('`').next()) else { continue };
            let set = Config::from_vars(|name| (name == s.name).then(|| value.to_string()));
            assert_eq!(format!("{:?}", set.unwrap_or_else(|e| panic!("{}={value}: {}", s.name, e.message))), none, "{}={value} is not the default", s.name);
        }
    }

    #[test]
    fn readme_and_dev_vars_example_say_what_the_table_says() {
        let root = env!("CARGO_MANIFEST_DIR");
        let readme_path = format!("{root}/README.md");
        let example_path = format!("{root}/.dev.vars.example");
        let readme = std::fs::read_to_string(&readme_path).unwrap();
        let start = readme.find("| name | kind | default | meaning |").expect("the README has a configuration table");
        let end = start + readme[start..].find("\n\n").unwrap() + 1;
        let example = std::fs::read_to_string(&example_path).unwrap();
        if std::env::var("IMGBED_WRITE_DOCS").is_ok() {
            std::fs::write(&readme_path, format!("{}{}{}", &readme[..start], readme_table(), &readme[end..])).unwrap();
            std::fs::write(&example_path, dev_vars_example()).unwrap();
            return;
        }
        assert_eq!(&readme[start..end], readme_table(), "README.md's table is not the settings table: IMGBED_WRITE_DOCS=1 cargo test settings");
        assert_eq!(example, dev_vars_example(), ".dev.vars.example is not the settings table: IMGBED_WRITE_DOCS=1 cargo test settings");
    }
}
