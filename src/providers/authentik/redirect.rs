//! authentik's redirect URI matching, and the near misses worth naming.
//!
//! From 2024.8.5 and 2024.10.3 a provider has a list of entries, each
//! `strict` (plain string equality: case, trailing slash and query count) or
//! `regex` (Python `re.fullmatch`, case-sensitive). From 2026.5 each entry
//! also has a type, `authorization` (the default, also for entries stored
//! without a type) or `logout`; only authorization entries accept a login.
//! Older releases kept one newline-separated string whose every line was a
//! regex, compared as a plain string only when it did not compile.

use regex::Regex;

/// The comparison an entry applies to a redirect URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MatchingMode {
    Strict,
    Regex,
    /// A mode this tool does not know, kept so the report can name it.
    Other(String),
}

/// The kind of redirect an entry allows (authentik 2026.5 and later).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UriType {
    Authorization,
    Logout,
    Other(String),
}

/// One redirect URI entry of a provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectEntry {
    pub matching_mode: MatchingMode,
    pub url: String,
    pub uri_type: UriType,
}

impl RedirectEntry {
    pub fn is_authorization(&self) -> bool {
        self.uri_type == UriType::Authorization
    }

    /// Describes the entry for messages: "strict entry `https://…`".
    pub fn describe(&self) -> String {
        let mode = match &self.matching_mode {
            MatchingMode::Strict => "strict".to_string(),
            MatchingMode::Regex => "regex".to_string(),
            MatchingMode::Other(mode) => format!("`{mode}`"),
        };
        let kind = match &self.uri_type {
            UriType::Authorization => String::new(),
            UriType::Logout => " logout".to_string(),
            UriType::Other(kind) => format!(" `{kind}`-type"),
        };
        format!("{mode}{kind} entry `{}`", self.url)
    }
}

/// The provider's redirect URIs in the shape its release stores them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedirectUris {
    /// The list of entries of 2024.8.5, 2024.10.3 and later.
    Entries(Vec<RedirectEntry>),
    /// The newline-separated string of older releases, one regex per line.
    Lines(Vec<String>),
}

impl RedirectUris {
    /// Returns every entry, treating the lines of older releases as regex
    /// authorization entries.
    pub fn entries(&self) -> Vec<RedirectEntry> {
        match self {
            RedirectUris::Entries(entries) => entries.clone(),
            RedirectUris::Lines(lines) => lines
                .iter()
                .map(|line| RedirectEntry { matching_mode: MatchingMode::Regex, url: line.clone(), uri_type: UriType::Authorization })
                .collect(),
        }
    }

    /// Returns true when logins from any redirect URI are accepted until the
    /// first one registers itself: no authorization entry at all.
    pub fn has_no_authorization_entry(&self) -> bool {
        !self.entries().iter().any(RedirectEntry::is_authorization)
    }

    pub fn is_legacy_string(&self) -> bool {
        matches!(self, RedirectUris::Lines(_))
    }
}

/// The outcome of comparing one redirect URI with one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryMatch {
    Matches,
    NoMatch,
    /// authentik logs an invalid pattern and treats the entry as no match.
    /// The text is the compiler's message; a pattern that Python accepts but
    /// Rust's regex crate does not (look-around, back-references) lands here too.
    InvalidRegex(String),
}

/// Compiles `pattern` so that it must match the whole text, as `re.fullmatch` does.
fn full_match_regex(pattern: &str, case_insensitive: bool) -> Result<Regex, regex::Error> {
    let flags = if case_insensitive { "(?i)" } else { "" };
    Regex::new(&format!(r"{flags}\A(?:{pattern})\z"))
}

/// Compares a redirect URI with one entry as authentik does.
pub fn entry_matches(entry: &RedirectEntry, uri: &str, legacy_line: bool) -> EntryMatch {
    match entry.matching_mode {
        MatchingMode::Strict => {
            if entry.url == uri {
                EntryMatch::Matches
            } else {
                EntryMatch::NoMatch
            }
        }
        MatchingMode::Regex => match full_match_regex(&entry.url, false) {
            Ok(pattern) if pattern.is_match(uri) => EntryMatch::Matches,
            Ok(_) => EntryMatch::NoMatch,
            // Before 2024.8.5 a line that did not compile was compared as a string.
            Err(_) if legacy_line && entry.url == uri => EntryMatch::Matches,
            Err(error) => EntryMatch::InvalidRegex(error.to_string().lines().last().unwrap_or_default().trim().to_string()),
        },
        MatchingMode::Other(_) => EntryMatch::NoMatch,
    }
}

/// One way a redirect URI can differ from an entry and still be meant as it.
struct Difference {
    label: &'static str,
    apply: fn(&str) -> String,
}

fn trim_whitespace(text: &str) -> String {
    text.trim().to_string()
}

/// Removes a backslash before any punctuation: `https://a\.b/x\?y` becomes `https://a.b/x?y`.
pub fn unescape_regex(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek().is_some_and(|next| next.is_ascii_punctuation()) {
            continue;
        }
        out.push(c);
    }
    out
}

fn lowercase(text: &str) -> String {
    text.to_lowercase()
}

/// Splits a URL into the part before the path, the path, and the rest (`?…`, `#…`).
fn split_url(text: &str) -> (&str, &str, &str) {
    let after_scheme = text.find("://").map_or(0, |index| index + 3);
    let path_start = text[after_scheme..].find(['/', '?', '#']).map_or(text.len(), |index| after_scheme + index);
    let rest_start = text[path_start..].find(['?', '#']).map_or(text.len(), |index| path_start + index);
    (&text[..path_start], &text[path_start..rest_start], &text[rest_start..])
}

fn strip_trailing_slash(text: &str) -> String {
    let (origin, path, rest) = split_url(text);
    format!("{origin}{}{rest}", path.trim_end_matches('/'))
}

fn force_https(text: &str) -> String {
    match text.strip_prefix("http://") {
        Some(rest) => format!("https://{rest}"),
        None => text.to_string(),
    }
}

fn strip_port(text: &str) -> String {
    let (origin, path, rest) = split_url(text);
    let after_scheme = origin.find("://").map_or(0, |index| index + 3);
    let authority = &origin[after_scheme..];
    let host = match authority.rfind(':') {
        Some(colon) if !authority.ends_with(']') && authority[colon + 1..].chars().all(|c| c.is_ascii_digit()) => &authority[..colon],
        _ => authority,
    };
    format!("{}{host}{path}{rest}", &origin[..after_scheme])
}

fn strip_www(text: &str) -> String {
    let (origin, path, rest) = split_url(text);
    let after_scheme = origin.find("://").map_or(0, |index| index + 3);
    let authority = &origin[after_scheme..];
    let authority = authority.strip_prefix("www.").or_else(|| authority.strip_prefix("WWW.")).unwrap_or(authority);
    format!("{}{authority}{path}{rest}", &origin[..after_scheme])
}

fn strip_query(text: &str) -> String {
    let (origin, path, _) = split_url(text);
    format!("{origin}{path}")
}

/// Differences in the order they are applied and reported.
const DIFFERENCES: [Difference; 8] = [
    Difference { label: "surrounding whitespace", apply: trim_whitespace },
    Difference { label: "regex escapes such as `\\.` in a strict entry, which compares them literally", apply: unescape_regex },
    Difference { label: "the scheme (http instead of https)", apply: force_https },
    Difference { label: "the port", apply: strip_port },
    Difference { label: "a `www.` prefix", apply: strip_www },
    Difference { label: "the query string or fragment", apply: strip_query },
    Difference { label: "the trailing slash", apply: strip_trailing_slash },
    Difference { label: "letter case", apply: lowercase },
];

/// Returns the smallest set of differences under which a strict entry
/// equals the URI, or `None` when the entry is unrelated or equal.
fn strict_near_miss(entry: &str, uri: &str) -> Option<Vec<&'static str>> {
    if entry == uri {
        return None;
    }
    let count = DIFFERENCES.len();
    let mut subsets: Vec<u32> = (1..(1u32 << count)).collect();
    subsets.sort_by_key(|mask| (mask.count_ones(), *mask));
    for mask in subsets {
        let mut left = entry.to_string();
        let mut right = uri.to_string();
        for (index, difference) in DIFFERENCES.iter().enumerate() {
            if mask & (1 << index) != 0 {
                left = (difference.apply)(&left);
                right = (difference.apply)(&right);
            }
        }
        if left == right {
            let labels = DIFFERENCES.iter().enumerate().filter(|(index, _)| mask & (1 << index) != 0).map(|(_, difference)| difference.label).collect();
            return Some(labels);
        }
    }
    None
}

/// Returns the differences under which a regex entry would match the URI.
fn regex_near_miss(pattern: &str, uri: &str) -> Option<Vec<&'static str>> {
    let exact = full_match_regex(pattern, false).ok()?;
    if exact.is_match(uri) {
        return None;
    }
    let toggled_slash = if strip_trailing_slash(uri) == uri {
        let (origin, path, rest) = split_url(uri);
        format!("{origin}{path}/{rest}")
    } else {
        strip_trailing_slash(uri)
    };
    let as_http = uri.strip_prefix("https://").map(|rest| format!("http://{rest}"));
    let mut candidates: Vec<(String, Vec<&'static str>)> = vec![(toggled_slash, vec!["the trailing slash"]), (strip_query(uri), vec!["the query string or fragment"])];
    if let Some(http) = as_http {
        candidates.push((http, vec!["the scheme (http instead of https)"]));
    }
    for (candidate, labels) in candidates {
        if candidate != uri && exact.is_match(&candidate) {
            return Some(labels);
        }
    }
    let insensitive = full_match_regex(pattern, true).ok()?;
    insensitive.is_match(uri).then(|| vec!["letter case (regex entries are case-sensitive)"])
}

/// The result of checking one redirect URI against a provider's entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UriCheck {
    /// Index of the first authorization entry that accepts the URI.
    pub accepted_by: Option<usize>,
    /// Index of a logout entry that matches the URI, when no authorization entry does.
    pub logout_only: Option<usize>,
    /// Entries that almost match, with what differs.
    pub near_misses: Vec<(usize, Vec<&'static str>)>,
    /// Regex entries that do not compile, with the compiler's message.
    pub invalid: Vec<(usize, String)>,
}

/// Checks a redirect URI against every entry, as authentik's authorize and
/// token endpoints do, and collects the near misses of the entries that fail.
pub fn check_uri(uris: &RedirectUris, uri: &str) -> UriCheck {
    let legacy = uris.is_legacy_string();
    let entries = uris.entries();
    let mut check = UriCheck::default();
    for (index, entry) in entries.iter().enumerate() {
        match entry_matches(entry, uri, legacy) {
            EntryMatch::Matches if entry.is_authorization() => {
                check.accepted_by.get_or_insert(index);
            }
            EntryMatch::Matches => {
                check.logout_only.get_or_insert(index);
            }
            EntryMatch::InvalidRegex(message) => check.invalid.push((index, message)),
            EntryMatch::NoMatch => {
                let near = match entry.matching_mode {
                    MatchingMode::Strict => strict_near_miss(&entry.url, uri),
                    MatchingMode::Regex => regex_near_miss(&entry.url, uri),
                    MatchingMode::Other(_) => strict_near_miss(&entry.url, uri),
                };
                if let Some(labels) = near {
                    check.near_misses.push((index, labels));
                }
            }
        }
    }
    if check.accepted_by.is_some() {
        check.logout_only = None;
    }
    check
}

/// The reason a regex entry accepts more than the URI it was written for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Looseness {
    /// `.*`, `.+` or a lone `*` before the path: any host matches.
    AnyHost,
    /// An unescaped `.` before the path: a look-alike host such as
    /// `mastodonXexample` matches, and some of those can be registered.
    DotInHost,
    /// `.*`, `.+` or an unescaped `.` in the path: other paths on the host match.
    LoosePath,
}

/// Returns the most serious looseness of a regex entry, or `None` when every
/// `.` is escaped and no wildcard is used.
pub fn regex_looseness(pattern: &str) -> Option<Looseness> {
    if matches!(pattern.trim(), "*" | ".*" | ".+" | "^.*$") {
        return Some(Looseness::AnyHost);
    }
    // The host ends at the first `/` after `://` outside a character class; a
    // pattern without `://` is judged as host text.
    let host_start = pattern.find("://").map_or(0, |index| index + 3);
    let host_end = if host_start == 0 { pattern.len() } else { first_slash_outside_class(pattern, host_start) };

    // A class, a shorthand class or a quantifier in the host lets other hosts
    // match (`[a-z]+\.example`, `\w+\.example`): the worst case.
    if host_pattern_varies(&pattern[host_start..host_end]) {
        return Some(Looseness::AnyHost);
    }
    let mut worst: Option<Looseness> = None;
    let mut chars = pattern.char_indices().peekable();
    let mut in_class = false;
    while let Some((index, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '.' if !in_class => {
                let wildcard = chars.peek().is_some_and(|(_, next)| matches!(next, '*' | '+'));
                let found = match (index < host_end, wildcard) {
                    (true, true) => Looseness::AnyHost,
                    (true, false) => Looseness::DotInHost,
                    (false, _) => Looseness::LoosePath,
                };
                worst = Some(match (worst, found) {
                    (Some(Looseness::AnyHost), _) | (_, Looseness::AnyHost) => Looseness::AnyHost,
                    (Some(Looseness::DotInHost), _) | (_, Looseness::DotInHost) => Looseness::DotInHost,
                    _ => Looseness::LoosePath,
                });
            }
            _ => {}
        }
    }
    worst
}

fn first_slash_outside_class(pattern: &str, from: usize) -> usize {
    let mut in_class = false;
    let mut chars = pattern[from..].char_indices();
    while let Some((offset, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '[' => in_class = true,
            ']' => in_class = false,
            '/' if !in_class => return from + offset,
            _ => {}
        }
    }
    pattern.len()
}

/// Returns true when the host part of a pattern matches more than one host
/// through anything but an unescaped `.` (which [`regex_looseness`] grades).
fn host_pattern_varies(host: &str) -> bool {
    let mut chars = host.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.next().is_some_and(|escaped| matches!(escaped, 'w' | 'W' | 'd' | 'D' | 's' | 'S')) => return true,
            '[' => {
                // `[.]` is a literal dot; any class of more than one character varies.
                let class: String = chars.by_ref().take_while(|inner| *inner != ']').collect();
                let literal = class.strip_prefix('\\').unwrap_or(&class);
                if literal.chars().count() != 1 || literal == "^" {
                    return true;
                }
            }
            '+' | '*' | '?' | '{' | '|' | '(' => return true,
            _ => {}
        }
    }
    false
}

/// Returns the regex that accepts exactly `uri`: every special character escaped.
pub fn escaped(uri: &str) -> String {
    regex::escape(uri)
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_classes_and_quantifiers_are_any_host() {
        for pattern in [r"https://[a-z]+\.example/cb", r"https://\w+\.example/cb", r"https://[^/]*\.example/cb", r"https://(a|b)\.example/cb"] {
            assert_eq!(super::regex_looseness(pattern), Some(super::Looseness::AnyHost), "{pattern}");
        }
    }

    use super::*;

    const CALLBACK: &str = "https://mastodon.example/auth/auth/openid_connect/callback";

    fn strict(url: &str) -> RedirectEntry {
        RedirectEntry { matching_mode: MatchingMode::Strict, url: url.into(), uri_type: UriType::Authorization }
    }

    fn regex(url: &str) -> RedirectEntry {
        RedirectEntry { matching_mode: MatchingMode::Regex, url: url.into(), uri_type: UriType::Authorization }
    }

    #[test]
    fn strict_is_exact_equality() {
        assert_eq!(entry_matches(&strict(CALLBACK), CALLBACK, false), EntryMatch::Matches);
        for other in [
            "https://mastodon.example/auth/auth/openid_connect/callback/",
            "http://mastodon.example/auth/auth/openid_connect/callback",
            "https://Mastodon.example/auth/auth/openid_connect/callback",
        ] {
            assert_eq!(entry_matches(&strict(CALLBACK), other, false), EntryMatch::NoMatch, "{other}");
        }
    }

    #[test]
    fn regex_is_a_full_case_sensitive_match() {
        let entry = regex(r"https://mastodon\.example/auth/auth/[a-z_]+/callback");
        assert_eq!(entry_matches(&entry, CALLBACK, false), EntryMatch::Matches);
        assert_eq!(entry_matches(&entry, &format!("{CALLBACK}/extra"), false), EntryMatch::NoMatch);
        assert_eq!(entry_matches(&entry, "https://MASTODON.example/auth/auth/openid_connect/callback", false), EntryMatch::NoMatch);
    }

    #[test]
    fn invalid_regex_is_reported() {
        let entry = regex("https://mastodon.example/(");
        assert!(matches!(entry_matches(&entry, CALLBACK, false), EntryMatch::InvalidRegex(_)));
    }

    #[test]
    fn legacy_line_falls_back_to_equality() {
        let entry = regex("https://mastodon.example/auth/auth/openid_connect/callback(");
        let uri = "https://mastodon.example/auth/auth/openid_connect/callback(";
        assert_eq!(entry_matches(&entry, uri, true), EntryMatch::Matches);
    }

    #[test]
    fn near_misses_name_the_difference() {
        let cases: [(&str, &[&str]); 7] = [
            ("https://mastodon.example/auth/auth/openid_connect/callback/", &["the trailing slash"]),
            ("http://mastodon.example/auth/auth/openid_connect/callback", &["the scheme (http instead of https)"]),
            ("https://mastodon.example:443/auth/auth/openid_connect/callback", &["the port"]),
            ("https://www.mastodon.example/auth/auth/openid_connect/callback", &["a `www.` prefix"]),
            ("https://Mastodon.Example/auth/auth/openid_connect/callback", &["letter case"]),
            (r"https://mastodon\.example/auth/auth/openid_connect/callback", &["regex escapes such as `\\.` in a strict entry, which compares them literally"]),
            ("http://mastodon.example/auth/auth/openid_connect/callback/", &["the scheme (http instead of https)", "the trailing slash"]),
        ];
        for (entry, expected) in cases {
            assert_eq!(strict_near_miss(entry, CALLBACK).as_deref(), Some(expected), "entry {entry}");
        }
    }

    #[test]
    fn unrelated_entries_are_no_near_miss() {
        assert_eq!(strict_near_miss("https://other.example/callback", CALLBACK), None);
        assert_eq!(strict_near_miss(CALLBACK, CALLBACK), None);
    }

    #[test]
    fn regex_near_misses() {
        assert_eq!(regex_near_miss(r"https://mastodon\.example/auth/auth/openid_connect/callback/", CALLBACK), Some(vec!["the trailing slash"]));
        assert_eq!(regex_near_miss(r"https://MASTODON\.example/auth/auth/openid_connect/callback", CALLBACK), Some(vec!["letter case (regex entries are case-sensitive)"]));
        assert_eq!(regex_near_miss(r"https://other\.example/.*", CALLBACK), None);
    }

    #[test]
    fn check_prefers_authorization_entries() {
        let logout = RedirectEntry { matching_mode: MatchingMode::Strict, url: CALLBACK.into(), uri_type: UriType::Logout };
        let uris = RedirectUris::Entries(vec![logout.clone()]);
        let check = check_uri(&uris, CALLBACK);
        assert_eq!(check.accepted_by, None);
        assert_eq!(check.logout_only, Some(0));
        assert!(uris.has_no_authorization_entry());

        let both = RedirectUris::Entries(vec![logout, strict(CALLBACK)]);
        let check = check_uri(&both, CALLBACK);
        assert_eq!(check.accepted_by, Some(1));
        assert_eq!(check.logout_only, None);
    }

    #[test]
    fn looseness_of_regex_entries() {
        let cases = [
            (r"https://mastodon\.example/auth/auth/openid_connect/callback", None),
            (r"https://mastodon.example/auth/auth/openid_connect/callback", Some(Looseness::DotInHost)),
            (r"https://mastodon\.example/.*", Some(Looseness::LoosePath)),
            (r"https://.*\.example/callback", Some(Looseness::AnyHost)),
            (".*", Some(Looseness::AnyHost)),
            ("*", Some(Looseness::AnyHost)),
            (r"https://mastodon[.]example/callback", None),
        ];
        for (pattern, expected) in cases {
            assert_eq!(regex_looseness(pattern), expected, "pattern {pattern}");
        }
    }

    #[test]
    fn escaped_pattern_matches_only_the_uri() {
        let entry = regex(&escaped(CALLBACK));
        assert_eq!(entry_matches(&entry, CALLBACK, false), EntryMatch::Matches);
        assert_eq!(regex_looseness(&entry.url), None);
    }
}
