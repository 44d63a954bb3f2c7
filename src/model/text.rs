//! Text that leaves campaign-pilot for a platform (a campaign's name,
//! headline and description) or a model's answer, cleaned the same way
//! whoever wrote it: no markup, no links, no control, bidi or zero-width
//! characters, white space collapsed, cut to a length at a word.

/// Bidi controls (they can make a name read backwards: `\u{202E}gnp.exe`)
/// and zero-width characters: format characters `char::is_control` misses.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// Removes markup tags, URLs and control characters, collapses white space,
/// and cuts to `max` characters (at a word boundary when one is near).
/// None when nothing is left.
pub fn clean(text: &str, max: usize) -> Option<String> {
    let mut no_tags = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if in_tag => {}
            c if c.is_control() || is_invisible(c) => no_tags.push(' '),
            c => no_tags.push(c),
        }
    }
    let words: Vec<&str> = no_tags
        .split_whitespace()
        .filter(|w| {
            let l = w.to_ascii_lowercase();
            !(l.contains("://") || l.starts_with("www.") || l.starts_with("javascript:") || l.starts_with("mailto:"))
        })
        .collect();
    let joined = words.join(" ");
    let joined = joined.trim_matches(|c: char| c == '"' || c.is_whitespace());
    if joined.is_empty() {
        return None;
    }
    if joined.chars().count() <= max {
        return Some(joined.to_string());
    }
    let hard: String = joined.chars().take(max).collect();
    // A word that ends exactly at the limit is whole; otherwise drop the torn one.
    let ends_at_word = joined.chars().nth(max).is_some_and(char::is_whitespace);
    let cut = match hard.rfind(' ') {
        Some(i) if !ends_at_word && i > max / 2 => hard[..i].to_string(),
        _ => hard,
    };
    let cut = cut.trim_end_matches([',', ';', ':', '-', ' ']).to_string();
    (!cut.is_empty()).then_some(cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_strips_markup_links_and_control_characters() {
        assert_eq!(clean("<b>Big</b> sale\u{7} at https://evil.example now", 90).unwrap(), "Big sale at now");
        assert_eq!(clean("<script>x</script>", 90).as_deref(), Some("x"));
        assert_eq!(clean("   ", 30), None);
        assert_eq!(clean("www.spam.example", 30), None);
    }

    #[test]
    fn clean_cuts_at_a_word_boundary_within_the_limit() {
        let c = clean("Stay warm this winter with the coziest hoodie ever made", 30).unwrap();
        assert!(c.chars().count() <= 30, "{c}");
        assert_eq!(c, "Stay warm this winter with the");
    }

    #[test]
    fn clean_removes_bidi_and_zero_width_characters() {
        assert_eq!(clean("Safe\u{202E}gnp.exe\u{200B} shoe\u{2066}x", 90).unwrap(), "Safe gnp.exe shoe x");
        assert_eq!(clean("\u{202E}\u{2069}", 90), None);
    }
}
