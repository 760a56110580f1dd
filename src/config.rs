//! The settings file `mastodon-oidc-check.toml`: rule severity overrides and
//! ignores. Every ignore carries a reason, which the reports print.
//!
//! ```toml
//! [rules.uid-mutable-claim]
//! severity = "warning"        # error | warning | info
//!
//! [[ignore]]
//! rule = "pkce-recommended"
//! reason = "our Mastodon 4.2 cannot send PKCE"
//! key = "OIDC_USE_PKCE"       # optional: only findings located on this key
//! ```
//!
//! Any mistake in the file is a usage error (exit status 2): unknown keys,
//! unknown rule ids, an ignore without a reason. The file is the tool's own,
//! so failing loudly is safer than ignoring less than the admin expects.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::finding::Severity;
use crate::rules;

/// Name of the settings file looked for in the checked directory or next to the checked file.
pub const FILE_NAME: &str = "mastodon-oidc-check.toml";

/// Largest settings file read; a real one is a few hundred bytes.
const MAX_FILE_BYTES: u64 = 256 * 1024;

/// A settings file that cannot be used; the CLI exits with status 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read settings file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("settings file {path} is larger than {limit} bytes")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("invalid settings file {path}:{line}:{column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

/// A rule whose findings get another severity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeverityOverride {
    pub rule: &'static str,
    pub severity: Severity,
}

/// A rule whose findings are reported as ignored, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ignore {
    pub rule: &'static str,
    /// Only findings whose primary location is an assignment of this key.
    pub key: Option<String>,
    pub reason: String,
    /// 1-based line of the `[[ignore]]` entry.
    pub line: usize,
}

/// A parsed, validated settings file.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub path: PathBuf,
    pub severities: Vec<SeverityOverride>,
    pub ignores: Vec<Ignore>,
}

impl Config {
    /// Returns the severity the settings file sets for a rule.
    pub fn severity(&self, rule: &str) -> Option<Severity> {
        self.severities.iter().find(|entry| entry.rule == rule).map(|entry| entry.severity)
    }

    /// Names where an ignore is written, as reports print it: `path:line`.
    pub fn source(&self, ignore: &Ignore) -> String {
        format!("{}:{}", self.path.display(), ignore.line)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    rules: BTreeMap<Spanned<String>, RawRule>,
    #[serde(default)]
    ignore: Vec<Spanned<RawIgnore>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    severity: Severity,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIgnore {
    rule: Spanned<String>,
    reason: Option<Spanned<String>>,
    key: Option<Spanned<String>>,
}

/// Finds and reads the settings file: `explicit` when given (it must
/// exist), else `mastodon-oidc-check.toml` in the checked directory or next
/// to the checked file, if there is one.
pub fn load(checked: &Path, explicit: Option<&Path>) -> Result<Option<Config>, Error> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None => {
            let directory = if checked.is_dir() { checked } else { checked.parent().unwrap_or(Path::new("")) };
            let candidate = directory.join(FILE_NAME);
            if !candidate.is_file() {
                return Ok(None);
            }
            candidate
        }
    };
    let text = read(&path)?;
    parse(&path, &text).map(Some)
}

fn read(path: &Path) -> Result<String, Error> {
    use std::io::Read;

    let read_error = |source| Error::Read { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1).read_to_string(&mut text).map_err(read_error)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::TooLarge { path: path.to_path_buf(), limit: MAX_FILE_BYTES });
    }
    Ok(text)
}

/// Parses and validates the text of a settings file read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<Config, Error> {
    let invalid = |offset: usize, message: String| {
        let (line, column) = line_col(text, offset);
        Error::Invalid { path: path.to_path_buf(), line, column, message }
    };

    let raw: RawConfig = toml::from_str(text).map_err(|error| {
        let offset = error.span().map_or(0, |span| span.start);
        invalid(offset, error.message().trim_end().to_string())
    })?;

    let mut config = Config { path: path.to_path_buf(), ..Config::default() };
    for (id, rule) in raw.rules {
        let known = known_rule(id.get_ref()).map_err(|message| invalid(id.span().start, message))?;
        config.severities.push(SeverityOverride { rule: known, severity: rule.severity });
    }

    for entry in raw.ignore {
        let start = entry.span().start;
        let entry = entry.into_inner();
        let rule = known_rule(entry.rule.get_ref()).map_err(|message| invalid(entry.rule.span().start, message))?;
        let reason = match &entry.reason {
            Some(reason) if !reason.get_ref().trim().is_empty() => reason.get_ref().trim().to_string(),
            Some(reason) => return Err(invalid(reason.span().start, format!("the ignore of `{rule}` has an empty `reason`; write why the finding does not apply"))),
            None => {
                return Err(invalid(
                    start,
                    format!("the ignore of `{rule}` has no `reason`; add a line such as reason = \"why the finding does not apply here\""),
                ))
            }
        };
        let key = match entry.key {
            Some(key) if key.get_ref().trim().is_empty() => return Err(invalid(key.span().start, "`key` is empty; name a variable such as OIDC_USE_PKCE, or remove the line".into())),
            Some(key) => Some(key.into_inner()),
            None => None,
        };
        let (line, _) = line_col(text, start);
        config.ignores.push(Ignore { rule, key, reason, line });
    }
    Ok(config)
}

/// Returns the registry's id for `id`, or an error message that suggests the nearest one.
fn known_rule(id: &str) -> Result<&'static str, String> {
    match rules::find(id) {
        Some(rule) => Ok(rule.id),
        None => Err(unknown_rule_message(id)),
    }
}

/// Builds the message for a rule id that is not in the registry.
pub fn unknown_rule_message(id: &str) -> String {
    match nearest_rule(id) {
        Some(nearest) => format!("unknown rule `{id}`; did you mean `{nearest}`? (`mastodon-oidc-check rules` lists every rule)"),
        None => format!("unknown rule `{id}`; `mastodon-oidc-check rules` lists every rule"),
    }
}

/// Returns the registered rule id closest to `id`, unless every id is too
/// different to be the intended one.
pub fn nearest_rule(id: &str) -> Option<&'static str> {
    rules::registry()
        .map(|rule| (strsim::normalized_damerau_levenshtein(id, rule.id), rule.id))
        .filter(|(similarity, _)| *similarity >= 0.5)
        .max_by(|left, right| left.0.total_cmp(&right.0))
        .map(|(_, id)| id)
}

/// Returns the 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    (line, text[line_start..offset].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Config, Error> {
        parse(Path::new("mastodon-oidc-check.toml"), text)
    }

    fn error_text(text: &str) -> String {
        parse_text(text).expect_err("the settings file is invalid").to_string()
    }

    #[test]
    fn example_parses() {
        let config = parse_text(
            "[rules.uid-mutable-claim]\nseverity = \"error\"\n\n[[ignore]]\nrule = \"pkce-recommended\"\nreason = \"our Mastodon 4.2 cannot send PKCE\"\nkey = \"OIDC_USE_PKCE\"\n",
        )
        .expect("valid settings");
        assert_eq!(config.severity("uid-mutable-claim"), Some(Severity::Error));
        assert_eq!(config.severity("pkce-recommended"), None);
        assert_eq!(config.ignores.len(), 1);
        assert_eq!(config.ignores[0].rule, "pkce-recommended");
        assert_eq!(config.ignores[0].reason, "our Mastodon 4.2 cannot send PKCE");
        assert_eq!(config.ignores[0].key.as_deref(), Some("OIDC_USE_PKCE"));
        assert_eq!(config.ignores[0].line, 4);
        assert_eq!(config.source(&config.ignores[0]), "mastodon-oidc-check.toml:4");
    }

    #[test]
    fn empty_file_is_valid() {
        let config = parse_text("").expect("valid settings");
        assert!(config.severities.is_empty());
        assert!(config.ignores.is_empty());
    }

    #[test]
    fn unknown_top_level_key_rejected() {
        let message = error_text("[rules.uid-mutable-claim]\nseverity = \"info\"\n\n[ignores]\nrule = \"x\"\n");
        assert!(message.contains("mastodon-oidc-check.toml:4:"), "{message}");
        assert!(message.contains("unknown field `ignores`"), "{message}");
    }

    #[test]
    fn unknown_key_in_rule_table_is_rejected() {
        let message = error_text("[rules.uid-mutable-claim]\nseverity = \"info\"\nenabled = false\n");
        assert!(message.contains("mastodon-oidc-check.toml:3:"), "{message}");
        assert!(message.contains("unknown field `enabled`"), "{message}");
    }

    #[test]
    fn unknown_key_in_ignore_is_rejected() {
        let message = error_text("[[ignore]]\nrule = \"pkce-recommended\"\nreason = \"x\"\nfile = \".env\"\n");
        assert!(message.contains("mastodon-oidc-check.toml:4:"), "{message}");
        assert!(message.contains("unknown field `file`"), "{message}");
    }

    #[test]
    fn invalid_severity_is_rejected() {
        let message = error_text("[rules.uid-mutable-claim]\nseverity = \"fatal\"\n");
        assert!(message.contains(":2:"), "{message}");
        assert!(message.contains("fatal"), "{message}");
    }

    #[test]
    fn ignore_without_reason_is_rejected() {
        let message = error_text("[rules.uid-mutable-claim]\nseverity = \"info\"\n\n[[ignore]]\nrule = \"pkce-recommended\"\n");
        assert!(message.contains("mastodon-oidc-check.toml:4:"), "{message}");
        assert!(message.contains("has no `reason`"), "{message}");
    }

    #[test]
    fn ignore_with_blank_reason_is_rejected() {
        let message = error_text("[[ignore]]\nrule = \"pkce-recommended\"\nreason = \"  \"\n");
        assert!(message.contains(":3:"), "{message}");
        assert!(message.contains("empty `reason`"), "{message}");
    }

    #[test]
    fn unknown_ignored_rule_suggests_nearest() {
        let message = error_text("[[ignore]]\nrule = \"pkce-recomended\"\nreason = \"x\"\n");
        assert!(message.contains(":2:"), "{message}");
        assert!(message.contains("unknown rule `pkce-recomended`; did you mean `pkce-recommended`?"), "{message}");
    }

    #[test]
    fn unknown_rule_table_suggests_nearest() {
        let message = error_text("[rules.uid-mutable-claims]\nseverity = \"info\"\n");
        assert!(message.contains(":1:"), "{message}");
        assert!(message.contains("did you mean `uid-mutable-claim`?"), "{message}");
    }

    #[test]
    fn unrelated_rule_id_gets_no_suggestion() {
        let message = error_text("[[ignore]]\nrule = \"zzzzzz\"\nreason = \"x\"\n");
        assert!(message.contains("unknown rule `zzzzzz`; `mastodon-oidc-check rules` lists every rule"), "{message}");
    }

    #[test]
    fn toml_syntax_error_names_line() {
        let message = error_text("[[ignore]\nrule = \"x\"\n");
        assert!(message.starts_with("invalid settings file mastodon-oidc-check.toml:1:"), "{message}");
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let error = load(Path::new("."), Some(Path::new("/nonexistent/settings.toml"))).expect_err("missing file");
        assert!(error.to_string().contains("cannot read settings file /nonexistent/settings.toml"), "{error}");
    }

    #[test]
    fn default_file_found_beside_env_file() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let env_path = directory.path().join(".env.production");
        std::fs::write(&env_path, "LOCAL_DOMAIN=mastodon.example\n").expect("env file written");
        assert!(load(&env_path, None).expect("no settings file is fine").is_none());

        std::fs::write(directory.path().join(FILE_NAME), "[rules.uid-mutable-claim]\nseverity = \"info\"\n").expect("settings written");
        let next_to_file = load(&env_path, None).expect("valid").expect("found next to the env file");
        assert_eq!(next_to_file.severity("uid-mutable-claim"), Some(Severity::Info));
        let in_directory = load(directory.path(), None).expect("valid").expect("found in the directory");
        assert_eq!(in_directory.path, directory.path().join(FILE_NAME));
    }
}
