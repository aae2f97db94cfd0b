//! The pages in the reader's language. Each language is one table (`i18n/<code>.json`: a
//! section per page plus `common`); a page's HTML names its texts as `{{key}}`, and its script
//! reads the same texts from `{{strings}}` (a JSON object). The language is the one the reader
//! chose with the switch on every page (the `imgbed_lang` cookie), else the first of
//! `Accept-Language` there is a table for, else English. API error codes and messages stay
//! English. A third language is its table plus one line in [`LANGUAGES`].

use crate::http::Request;
use serde_json::{Map, Value};

/// (code, name in that language, table). English first: the fallback for any missing text.
pub const LANGUAGES: [(&str, &str, &str); 2] = [("en", "English", include_str!("i18n/en.json")), ("zh-CN", "简体中文", include_str!("i18n/zh-CN.json"))];

/// The cookie the language switch sets.
pub const COOKIE: &str = "imgbed_lang";

/// Which of [`LANGUAGES`] a request reads.
pub fn choose(req: &Request) -> usize {
    let by_code = |code: &str| LANGUAGES.iter().position(|(c, _, _)| c.eq_ignore_ascii_case(code));
    if let Some(i) = crate::access::auth::cookie(req, COOKIE).as_deref().and_then(by_code) {
        return i;
    }
    let mut wanted: Vec<(f32, &str)> = req
        .header("accept-language")
        .unwrap_or("")
        .split(',')
        .filter_map(|part| {
            let mut bits = part.trim().split(';');
            let tag = bits.next()?.trim();
            let q = bits.find_map(|b| b.trim().strip_prefix("q=")?.parse::<f32>().ok()).unwrap_or(1.0);
            (!tag.is_empty() && q > 0.0).then_some((q, tag))
        })
        .collect();
    // Highest weight first; equal weights keep the reader's order.
    wanted.sort_by(|a, b| b.0.total_cmp(&a.0));
    wanted
        .iter()
        .find_map(|(_, tag)| {
            let primary = tag.split('-').next().unwrap_or(tag);
            // Every Chinese reader gets the Chinese table there is (Simplified).
            by_code(tag).or_else(|| LANGUAGES.iter().position(|(c, _, _)| c.split('-').next().is_some_and(|p| p.eq_ignore_ascii_case(primary))))
        })
        .unwrap_or(0)
}

fn table(lang: usize) -> Map<String, Value> {
    serde_json::from_str(LANGUAGES[lang].2).unwrap_or_default()
}

/// The texts of `section` (and `common`) in language `lang`, English where it has none.
pub fn texts(lang: usize, section: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for t in [table(0), table(lang)] {
        for part in ["common", section] {
            if let Some(Value::Object(m)) = t.get(part) {
                out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
    }
    out
}

/// What choosing a language does: remember it in [`COOKIE`] for a year, and show the page again.
const SWITCH_SCRIPT: &str = "document.getElementById('lang-switch').addEventListener('change',(e)=>{document.cookie=`imgbed_lang=${e.target.value}; path=/; max-age=31536000; samesite=lax`;location.reload();});";

/// The language switch: a labelled `<select>` and the script that wires it to [`COOKIE`] (the
/// page's CSP allows it by hash, like every script block).
pub fn switch(lang: usize) -> String {
    let options: String = LANGUAGES
        .iter()
        .enumerate()
        .map(|(i, (code, name, _))| format!("<option value=\"{code}\" lang=\"{code}\"{}>{name}</option>", if i == lang { " selected" } else { "" }))
        .collect();
    format!("<select id=\"lang-switch\" class=\"lang-switch\" aria-label=\"Language / 语言\">{options}</select><script>{SWITCH_SCRIPT}</script>")
}

/// `html` with every `{{key}}` filled in for `lang`: `{{lang}}` is the code, `{{switch}}` the
/// switch, `{{strings}}` the section's texts as JSON for the script; a key no table has is
/// left as it is (a test checks there is none).
pub fn localize(html: &str, section: &str, lang: usize) -> String {
    let texts = texts(lang, section);
    let mut out = String::with_capacity(html.len() + html.len() / 4);
    let mut rest = html;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let key = &after[..end];
        match key {
            "lang" => out.push_str(LANGUAGES[lang].0),
            "switch" => out.push_str(&switch(lang)),
            // `<` escaped: the JSON sits inside a <script> block.
            "strings" => out.push_str(&Value::Object(texts.clone()).to_string().replace('<', "\\u003c")),
            _ => match texts.get(key).and_then(Value::as_str) {
                Some(t) => out.push_str(t),
                None => out.push_str(&rest[start..start + 2 + end + 2]),
            },
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    fn req(accept: Option<&str>, cookie: Option<&str>) -> Request {
        let mut r = Request::new(Method::Get, "https://img.example.com/").unwrap();
        if let Some(a) = accept {
            r.headers.set("accept-language", a);
        }
        if let Some(c) = cookie {
            r.headers.set("cookie", c);
        }
        r
    }

    #[test]
    fn the_readers_language() {
        let code = |a: Option<&str>, c: Option<&str>| LANGUAGES[choose(&req(a, c))].0;
        assert_eq!(code(None, None), "en");
        assert_eq!(code(Some("zh-CN,zh;q=0.9,en;q=0.8"), None), "zh-CN");
        assert_eq!(code(Some("zh-TW"), None), "zh-CN", "the Chinese there is");
        assert_eq!(code(Some("fr-FR, en-GB;q=0.5, zh;q=0.4"), None), "en");
        assert_eq!(code(Some("en;q=0.2, zh-Hans;q=0.9"), None), "zh-CN", "by weight");
        assert_eq!(code(Some("zh-CN"), Some("a=b; imgbed_lang=en")), "en", "the switch wins");
        assert_eq!(code(Some("de"), Some("imgbed_lang=xx")), "en");
    }

    #[test]
    fn every_table_has_every_text_and_every_page_only_known_keys() {
        let keys = |lang: usize| -> Vec<String> {
            let t = table(lang);
            let mut k: Vec<String> =
                t.iter().flat_map(|(s, m)| m.as_object().into_iter().flat_map(move |m| m.keys().map(move |k| format!("{s}.{k}")))).collect();
            k.sort();
            k
        };
        assert!(!keys(0).is_empty());
        for (lang, (code, _, _)) in LANGUAGES.iter().enumerate().skip(1) {
            assert_eq!(keys(lang), keys(0), "{code} has the texts English has, no more");
        }
        for (section, html) in crate::pages::LOCALIZED {
            for (lang, (code, _, _)) in LANGUAGES.iter().enumerate() {
                let done = localize(html, section, lang);
                let left = done.find("{{").map(|i| &done[i..(i + 40).min(done.len())]);
                assert!(left.is_none(), "{section} in {code}: {left:?} has no text");
            }
        }
    }

    /// The keys a page's script names: `T.key`/`L.key` and `t('key'`/`lt('key'`.
    fn script_keys(html: &str) -> Vec<String> {
        let mut keys = Vec::new();
        for (prefix, end) in [("T.", ""), ("L.", ""), ("t('", "'"), ("lt('", "'")] {
            for (at, _) in html.match_indices(prefix) {
                let before = html[..at].chars().next_back().unwrap_or(' ');
                if before.is_alphanumeric() || before == '_' || before == '.' || before == '$' {
                    continue;
                }
                let key: String = html[at + prefix.len()..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !key.is_empty() && html[at + prefix.len() + key.len()..].starts_with(end) {
                    keys.push(key);
                }
            }
        }
        keys
    }

    #[test]
    fn every_text_a_script_names_is_in_the_table() {
        let mut named = 0;
        for (section, html) in crate::pages::LOCALIZED {
            let texts = texts(0, section);
            for key in script_keys(html) {
                assert!(texts.contains_key(&key), "{section}: the script names {key:?}, which the table lacks");
                named += 1;
            }
        }
        assert!(named > 100, "the scan finds the scripts' texts ({named})");
    }

    #[test]
    fn texts_in_scripts_cannot_close_them() {
        let done = localize("<script>const T = {{strings}};</script>", "gallery", 0);
        assert!(!done.contains("</") || done.matches("</script>").count() == 1);
    }
}
