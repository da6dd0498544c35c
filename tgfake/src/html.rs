//! Telegram's `parse_mode=HTML`: the tags it supports become entities with
//! UTF-16 offsets, the four named entities and numeric entities are decoded,
//! and malformed markup is refused with Telegram's own wording
//! (`Bad Request: can't parse entities: …`), so a bot that forgets to escape
//! a user's name fails here as it would in production.
use serde_json::{json, Value};

/// Plain text and entities, as Telegram stores a formatted message.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub text: String,
    pub entities: Vec<Value>,
}

struct Open {
    tag: String,
    kind: &'static str,
    url: Option<String>,
    language: Option<String>,
    offset: usize,
}

fn kind_of(tag: &str, attrs: &str) -> Option<&'static str> {
    Some(match tag {
        "b" | "strong" => "bold",
        "i" | "em" => "italic",
        "u" | "ins" => "underline",
        "s" | "strike" | "del" => "strikethrough",
        "code" => "code",
        "pre" => "pre",
        "a" => "text_link",
        "tg-spoiler" => "spoiler",
        "span" if attrs.contains("tg-spoiler") => "spoiler",
        "blockquote" => "blockquote",
        "tg-emoji" => "custom_emoji",
        _ => return None,
    })
}

fn attr(attrs: &str, name: &str) -> Option<String> {
    let i = attrs.find(&format!("{name}="))?;
    let rest = &attrs[i + name.len() + 1..];
    let quote = rest.chars().next()?;
    if quote == '"' || quote == '\'' {
        let end = rest[1..].find(quote)?;
        Some(decode_entities(&rest[1..1 + end]))
    } else {
        Some(rest.split_whitespace().next().unwrap_or("").to_string())
    }
}

fn decode_entities(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        match entity(rest) {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Decodes an entity at the start of `s` (which starts with `&`).
fn entity(s: &str) -> Option<(char, usize)> {
    let end = s.find(';')?;
    if end > 12 {
        return None;
    }
    let name = &s[1..end];
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        _ if name.starts_with("#x") || name.starts_with("#X") => char::from_u32(u32::from_str_radix(&name[2..], 16).ok()?)?,
        _ if name.starts_with('#') => char::from_u32(name[1..].parse().ok()?)?,
        _ => return None,
    };
    Some((c, end + 1))
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

fn bad(message: String) -> String {
    format!("Bad Request: can't parse entities: {message}")
}

/// Parses `text` sent with `parse_mode=HTML`.
pub fn parse_html(text: &str) -> Result<Parsed, String> {
    let mut out = String::new();
    let mut utf16 = 0usize;
    let mut stack: Vec<Open> = Vec::new();
    let mut entities = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let c = text[i..].chars().next().expect("in bounds");
        match c {
            '<' => {
                let Some(close) = text[i..].find('>') else {
                    return Err(bad(format!("Unclosed start tag at byte offset {i}")));
                };
                let inner = &text[i + 1..i + close];
                if let Some(name) = inner.strip_prefix('/') {
                    let name = name.trim().to_ascii_lowercase();
                    let Some(open) = stack.pop() else {
                        return Err(bad(format!("Unexpected end tag at byte offset {i}")));
                    };
                    if open.tag != name {
                        return Err(bad(format!(
                            "Unmatched end tag at byte offset {i}, expected \"</{}>\", found \"</{name}>\"",
                            open.tag
                        )));
                    }
                    let length = utf16 - open.offset;
                    if length > 0 {
                        let mut e = json!({"type": open.kind, "offset": open.offset, "length": length});
                        if let Some(url) = open.url {
                            e["url"] = json!(url);
                        }
                        if let Some(lang) = open.language {
                            e["language"] = json!(lang);
                        }
                        entities.push(e);
                    }
                } else {
                    let inner = inner.trim_end_matches('/');
                    let (name, attrs) = match inner.find(char::is_whitespace) {
                        Some(s) => (&inner[..s], &inner[s..]),
                        None => (inner, ""),
                    };
                    let name = name.to_ascii_lowercase();
                    if name.is_empty() {
                        return Err(bad(format!("Empty tag name at byte offset {i}")));
                    }
                    let Some(kind) = kind_of(&name, attrs) else {
                        return Err(bad(format!("Unsupported start tag \"{name}\" at byte offset {i}")));
                    };
                    let url = if name == "a" { attr(attrs, "href") } else { None };
                    if name == "a" && url.is_none() {
                        return Err(bad(format!("Can't find href in tag \"a\" at byte offset {i}")));
                    }
                    let language = if name == "code" {
                        attr(attrs, "class").and_then(|c| c.strip_prefix("language-").map(str::to_string))
                    } else {
                        None
                    };
                    stack.push(Open {
                        tag: name,
                        kind,
                        url,
                        language,
                        offset: utf16,
                    });
                }
                i += close + 1;
            }
            '&' => match entity(&text[i..]) {
                Some((decoded, len)) => {
                    out.push(decoded);
                    utf16 += decoded.len_utf16();
                    i += len;
                }
                None => {
                    out.push('&');
                    utf16 += 1;
                    i += 1;
                }
            },
            _ => {
                out.push(c);
                utf16 += c.len_utf16();
                i += c.len_utf8();
            }
        }
    }
    if let Some(open) = stack.pop() {
        return Err(bad(format!("Can't find end tag corresponding to start tag \"{}\"", open.tag)));
    }
    entities.sort_by_key(|e| e["offset"].as_u64());
    Ok(Parsed { text: out, entities })
}

/// Telegram adds a `bot_command` entity for a leading `/command` in text the user sends.
pub fn command_entities(text: &str) -> Vec<Value> {
    if !text.starts_with('/') {
        return Vec::new();
    }
    let word = text.split_whitespace().next().unwrap_or("");
    vec![json!({"type": "bot_command", "offset": 0, "length": utf16_len(word)})]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_become_entities_with_utf16_offsets() {
        let p = parse_html("سلام <b>۱۲</b> 😀 <code>6037</code> &lt;x&gt;").unwrap();
        assert_eq!(p.text, "سلام ۱۲ 😀 6037 <x>");
        assert_eq!(p.entities[0], json!({"type": "bold", "offset": 5, "length": 2}));
        // The emoji takes two UTF-16 units.
        assert_eq!(p.entities[1], json!({"type": "code", "offset": 11, "length": 4}));
    }

    #[test]
    fn malformed_markup_is_refused_as_telegram_does() {
        assert!(parse_html("<b>x</i>")
            .unwrap_err()
            .starts_with("Bad Request: can't parse entities: Unmatched end tag"));
        assert!(parse_html("a <script>").unwrap_err().contains("Unsupported start tag \"script\""));
        assert!(parse_html("<b>open").unwrap_err().contains("Can't find end tag"));
        assert!(parse_html("1 < 2").is_err());
    }

    #[test]
    fn links_keep_their_url() {
        let p = parse_html("<a href=\"https://t.me/x?start=ref_1\">link</a>").unwrap();
        assert_eq!(p.entities[0]["url"], "https://t.me/x?start=ref_1");
    }
}
