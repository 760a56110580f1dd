//! Secret masking for every output: messages, help, snippets and logs.
//!
//! Secrets are the values of variables whose names mark them as secret
//! (OIDC_CLIENT_SECRET, SECRET_KEY_BASE, OTP_SECRET, passwords, keys, tokens)
//! and URLs with a password. Rules avoid printing them; this layer is the
//! second line of defence and replaces any occurrence that slipped through.

use crate::envfile::{EnvSet, Quote};
use crate::mastodon;

/// Values shorter than this are not searched for in free text: masking every
/// `a` of a message would make it unreadable. Their spans are still masked.
const MIN_SEARCHED_LENGTH: usize = 4;

/// Masks secret values in text.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    /// Sorted by length, the longest first, so a secret that contains another is masked whole.
    secrets: Vec<String>,
}

impl Redactor {
    /// Collects the secret values of every file and of the process environment.
    pub fn from_env(env: &EnvSet) -> Self {
        let mut redactor = Redactor::default();
        for (name, value) in &env.process {
            if mastodon::is_secret_name(name) || mastodon::is_secret_value(value) {
                redactor.add(value);
            }
        }
        for file in &env.files {
            for entry in &file.entries {
                if mastodon::is_secret_name(&entry.key) || mastodon::is_secret_value(&entry.value) {
                    redactor.add(&entry.value);
                    redactor.add(&entry.written);
                    let inner = match entry.quote {
                        Quote::None => entry.written.as_str(),
                        _ => &entry.written[1..entry.written.len() - 1],
                    };
                    redactor.add(inner);
                    if let Some(comment) = entry.attached_comment {
                        redactor.add(&format!("{}{}", entry.written, file.source.slice(comment)));
                    }
                }
            }
        }
        redactor.add_encoded_client_secret(env);
        redactor
    }

    /// Adds the forms a client secret takes on the wire, which a provider may
    /// echo in an error description: form-urlencoded, and inside an HTTP Basic
    /// header (base64 of `id:secret`, raw and form-urlencoded as rack-oauth2
    /// sends it).
    fn add_encoded_client_secret(&mut self, env: &EnvSet) {
        use base64::Engine;

        let encode = |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
        let secrets = self.secrets.clone();
        for secret in &secrets {
            self.add(&encode(secret));
        }
        let (Some(id), Some(secret)) = (env.get("OIDC_CLIENT_ID"), env.get("OIDC_CLIENT_SECRET")) else { return };
        if secret.value.is_empty() {
            return;
        }
        let engine = base64::engine::general_purpose::STANDARD;
        self.add(&engine.encode(format!("{}:{}", id.value, secret.value)));
        self.add(&engine.encode(format!("{}:{}", encode(id.value), encode(secret.value))));
    }

    /// Adds a value to mask, such as a token read from a file.
    pub fn add(&mut self, secret: &str) {
        let secret = secret.trim();
        if secret.len() < MIN_SEARCHED_LENGTH || self.secrets.iter().any(|known| known == secret) {
            return;
        }
        self.secrets.push(secret.to_string());
        self.secrets.sort_by_key(|known| std::cmp::Reverse(known.len()));
    }

    /// Replaces every secret in `text` with `****`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "****");
            }
        }
        out
    }

    /// Returns a copy of a file's text with secret values masked by `*` of
    /// the same byte length, so spans into the file stay valid.
    pub fn mask_source(&self, env: &EnvSet, file_index: usize) -> String {
        let file = &env.files[file_index];
        let mut bytes = file.source.text.clone().into_bytes();
        for entry in &file.entries {
            let secret = mastodon::is_secret_name(&entry.key) || mastodon::is_secret_value(&entry.value);
            if !secret {
                continue;
            }
            let mut end = entry.value_span.end;
            if let Some(comment) = entry.attached_comment {
                end = end.max(comment.end);
            }
            mask_range(&mut bytes, entry.value_span.start, end);
        }
        // A commented-out assignment of a secret (`#OIDC_CLIENT_SECRET=old`)
        // still shows up as context around other findings.
        let mut line_start = 0;
        for line in file.source.text.split_inclusive('\n') {
            let body = line.trim_start();
            if let Some(commented) = body.strip_prefix('#') {
                let commented = commented.trim_start();
                let commented = commented.strip_prefix("export ").unwrap_or(commented).trim_start();
                let key = skipped_line_key(commented);
                if !key.is_empty() && mastodon::is_secret_name(key) {
                    let separator = usize::from(commented[key.len()..].starts_with(['=', ':']));
                    let key_end = line_start + (line.len() - body.len()) + (body.len() - commented.len()) + key.len() + separator;
                    mask_range(&mut bytes, key_end, line_start + line.trim_end_matches(['\n', '\r']).len());
                }
            }
            line_start += line.len();
        }

        // A skipped line is not a clean assignment, so whatever follows its
        // first word may be a secret written with the wrong separator.
        for span in &file.skipped {
            let line = file.source.slice(*span);
            let leading = line.len() - line.trim_start().len();
            let key = skipped_line_key(line.trim_start());
            mask_range(&mut bytes, span.start + leading + key.len(), span.end);
        }
        let masked = String::from_utf8(bytes).unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned());
        mask_occurrences(&masked, &self.secrets)
    }
}

fn mask_range(bytes: &mut [u8], start: usize, end: usize) {
    for byte in &mut bytes[start..end] {
        if !matches!(*byte, b'\n' | b'\r') {
            *byte = b'*';
        }
    }
}

/// Returns the first word of a skipped line: the text before any whitespace,
/// `=` or `:`. It is the only part of such a line that outputs show.
pub fn skipped_line_key(line: &str) -> &str {
    let end = line.find(|c: char| c.is_whitespace() || c == '=' || c == ':').unwrap_or(line.len());
    &line[..end]
}

fn mask_occurrences(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), &"*".repeat(secret.len()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use base64::Engine;

    use super::*;
    use crate::envfile::SourceFile;

    fn env(text: &str) -> EnvSet {
        EnvSet::from_sources(vec![SourceFile::new(".env.production", text.as_bytes())], HashMap::new())
    }

    #[test]
    fn wire_forms_of_client_secret_masked() {
        let env = env("OIDC_CLIENT_ID=mastodon\nOIDC_CLIENT_SECRET='Echo Secret/x+y'\n");
        let redactor = Redactor::from_env(&env);
        let basic = base64::engine::general_purpose::STANDARD.encode("mastodon:Echo Secret/x+y");
        let encoded_basic = base64::engine::general_purpose::STANDARD.encode("mastodon:Echo+Secret%2Fx%2By");
        assert!(!redactor.redact(&format!("got header 'Basic {basic}'")).contains(&basic));
        assert!(!redactor.redact(&format!("got header 'Basic {encoded_basic}'")).contains(&encoded_basic));
        assert!(!redactor.redact("client_secret=Echo+Secret%2Fx%2By").contains("Echo+Secret"));
    }

    #[test]
    fn commented_out_secret_masked_in_snippets() {
        let text = "OIDC_ENABLED=true\n# OIDC_CLIENT_SECRET=old-secret-value\n#export DB_PASS=older\n# plain comment\n";
        let env = env(text);
        let masked = Redactor::from_env(&env).mask_source(&env, 0);
        assert_eq!(masked.len(), text.len());
        assert!(!masked.contains("old-secret-value"), "{masked}");
        assert!(!masked.contains("older"), "{masked}");
        assert!(masked.contains("# plain comment"), "{masked}");
        assert!(masked.contains("# OIDC_CLIENT_SECRET="), "{masked}");
    }
}
