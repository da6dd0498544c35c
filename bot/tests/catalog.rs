//! Walks both message catalogs: the same keys, the same variables, every
//! message formats without error in both languages, and every key the code
//! uses exists in both.
use std::collections::{BTreeMap, BTreeSet};

use bot::i18n::{Texts, EN_FTL, FA_FTL};
use domain::Language;

/// Message ids and the variables each uses, read from the FTL source.
fn messages(source: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in source.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            if let Some((id, _)) = line.split_once(" = ") {
                current = Some(id.trim().to_string());
                out.entry(id.trim().to_string()).or_default();
            }
        }
        if let Some(id) = &current {
            let mut rest = line;
            while let Some(i) = rest.find("{ $") {
                let after = &rest[i + 3..];
                let end = after
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                    .unwrap_or(after.len());
                out.get_mut(id).expect("entry").insert(after[..end].to_string());
                rest = &after[end..];
            }
        }
    }
    out
}

#[test]
fn both_catalogs_have_the_same_keys_and_variables() {
    let en = messages(EN_FTL);
    let fa = messages(FA_FTL);
    assert!(en.len() > 150, "the catalog was read ({} keys)", en.len());
    let en_keys: BTreeSet<_> = en.keys().collect();
    let fa_keys: BTreeSet<_> = fa.keys().collect();
    assert_eq!(
        en_keys.symmetric_difference(&fa_keys).collect::<Vec<_>>(),
        Vec::<&&String>::new(),
        "keys only in one language"
    );
    for (key, vars) in &en {
        assert_eq!(vars, &fa[key], "variables of {key} differ between en and fa");
    }
}

#[test]
fn every_message_formats_in_both_languages() {
    let texts = Texts::new().unwrap();
    for (key, vars) in messages(EN_FTL) {
        let args: Vec<(&str, String)> = vars.iter().map(|v| (v.as_str(), "1".to_string())).collect();
        for lang in [Language::En, Language::Fa] {
            let text = texts.try_get(lang, &key, &args).unwrap_or_else(|e| panic!("{e}"));
            assert!(!text.trim().is_empty(), "{key} in {lang:?} is empty");
            // Telegram must be able to parse it as HTML.
            tgfake::parse_html(&text).unwrap_or_else(|e| panic!("{key} in {lang:?} is not valid Telegram HTML: {e}"));
        }
        // Without its variables a message reports the missing ones.
        if !vars.is_empty() {
            assert!(texts.try_get(Language::Fa, &key, &[]).is_err(), "{key} should need its variables");
        }
    }
}

/// Every string literal in the bot's source that is used as a message key.
fn keys_used_in_code() -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let mut stack = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            // Calls such as t("key"), ta("key", …), get(lang, "key", …), and key tables.
            for (i, _) in source.match_indices('"') {
                let rest = &source[i + 1..];
                let Some(end) = rest.find('"') else { continue };
                let literal = &rest[..end];
                let before = source[..i].trim_end();
                let is_call =
                    before.ends_with("t(") || before.ends_with("ta(") || before.ends_with("lang,") || before.ends_with("feature_key:");
                let looks_like_key =
                    !literal.is_empty() && literal.chars().all(|c| c.is_ascii_lowercase() || c == '-' || c == '_') && literal.contains('-');
                if looks_like_key && (is_call || source[..i].ends_with("[\"") || before.ends_with(',') || before.ends_with('[')) {
                    keys.insert(literal.to_string());
                }
            }
        }
    }
    keys
}

#[test]
fn every_key_the_code_uses_exists_in_both_languages() {
    let texts = Texts::new().unwrap();
    let used = keys_used_in_code();
    assert!(used.len() > 100, "the scan found the keys ({})", used.len());
    let missing: Vec<_> = used
        .iter()
        .filter(|k| !(texts.has(Language::En, k) && texts.has(Language::Fa, k)))
        .collect();
    assert!(missing.is_empty(), "keys used in code but missing from a catalog: {missing:?}");
}
