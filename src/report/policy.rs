//! Severity overrides and ignores, applied to the findings of a run in one
//! place before a [`Report`](super::Report) is built. Rules never see them.
//!
//! Order: the settings file's severities replace the severity of every
//! finding of a rule, including findings whose rule raised or lowered its
//! own default. Then each finding gets the first ignore that matches it: an
//! inline `# mastodon-oidc-check: ignore` comment (see `crate::suppress`)
//! before the settings file's `[[ignore]]` entries. An ignored finding stays
//! in every report, marked with the reason, and no longer counts toward the
//! exit status or the totals.

use crate::config::Config;
use crate::envfile::EnvSet;
use crate::finding::{Finding, Label, Suppression};
use crate::suppress;

/// Applies the settings file (if any) and the env files' inline ignores to `findings`.
pub fn apply(findings: &mut [Finding], env: &EnvSet, config: Option<&Config>) {
    if let Some(config) = config {
        for finding in findings.iter_mut() {
            if let Some(severity) = config.severity(finding.rule) {
                finding.severity = severity;
            }
        }
    }

    let directives = suppress::directives(env);
    for finding in findings.iter_mut().filter(|finding| finding.suppressed.is_none()) {
        finding.suppressed = inline_suppression(finding, env, &directives).or_else(|| config.and_then(|config| config_suppression(finding, env, config)));
    }
}

/// Returns the 1-based line of a label.
fn label_line(env: &EnvSet, label: &Label) -> usize {
    env.files[label.file].source.line_col(label.span.start).0
}

fn inline_suppression(finding: &Finding, env: &EnvSet, directives: &[suppress::Directive]) -> Option<Suppression> {
    let primary = finding.primary.as_ref()?;
    let line = label_line(env, primary);
    let directive = directives.iter().find(|directive| directive.file == primary.file && directive.covers(finding.rule, line))?;
    Some(Suppression {
        reason: directive.reason.clone().unwrap_or_default(),
        source: format!("{}:{}", env.files[directive.file].source.path.display(), directive.line),
    })
}

fn config_suppression(finding: &Finding, env: &EnvSet, config: &Config) -> Option<Suppression> {
    let ignore = config.ignores.iter().find(|ignore| {
        ignore.rule == finding.rule
            && match &ignore.key {
                Some(key) => finding.primary.as_ref().is_some_and(|primary| on_key(env, primary, key)),
                None => true,
            }
    })?;
    Some(Suppression { reason: ignore.reason.clone(), source: config.source(ignore) })
}

/// Returns true when a label lies on an assignment of `key`: from its key to
/// the end of its value, on whichever lines these take.
fn on_key(env: &EnvSet, label: &Label, key: &str) -> bool {
    let file = &env.files[label.file];
    let line = label_line(env, label);
    file.entries.iter().filter(|entry| entry.key == key).any(|entry| {
        let (last_line, _) = file.source.line_col(entry.value_span.end.max(entry.key_span.end));
        (entry.line..=last_line).contains(&line)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;

    use super::*;
    use crate::envfile::{SourceFile, Span};
    use crate::finding::Severity;

    const ENV: &str = "LOCAL_DOMAIN=mastodon.example\n# mastodon-oidc-check: ignore uid-opaque-sub -- usernames are set by the provider\nOIDC_UID_FIELD=sub\nOIDC_USE_PKCE=false\n";

    fn env() -> EnvSet {
        EnvSet::from_sources(vec![SourceFile::new(".env.production", ENV.as_bytes())], HashMap::new())
    }

    /// Builds a finding of `rule` whose primary label is the value of `key`.
    fn finding_on(env: &EnvSet, rule: &'static str, key: &str) -> Finding {
        let entry = env.files[0].get(key).expect("key is in the fixture");
        let mut finding = Finding::new(rule, Severity::Info, "message");
        finding.primary = Some(Label::new(0, entry.value_span));
        finding
    }

    fn config(text: &str) -> Config {
        crate::config::parse(Path::new("mastodon-oidc-check.toml"), text).expect("valid settings")
    }

    #[test]
    fn inline_ignore_marks_finding_on_next_key() {
        let env = env();
        let mut findings = vec![finding_on(&env, "uid-opaque-sub", "OIDC_UID_FIELD"), finding_on(&env, "uid-opaque-sub", "OIDC_USE_PKCE")];
        apply(&mut findings, &env, None);
        assert_eq!(
            findings[0].suppressed,
            Some(Suppression { reason: "usernames are set by the provider".into(), source: ".env.production:2".into() })
        );
        assert_eq!(findings[1].suppressed, None);
    }

    #[test]
    fn config_override_sets_severity() {
        let env = env();
        let mut findings = vec![finding_on(&env, "uid-opaque-sub", "OIDC_UID_FIELD"), finding_on(&env, "pkce-recommended", "OIDC_USE_PKCE")];
        apply(&mut findings, &env, Some(&config("[rules.pkce-recommended]\nseverity = \"error\"\n")));
        assert_eq!(findings[0].severity, Severity::Info);
        assert_eq!(findings[1].severity, Severity::Error);
    }

    #[test]
    fn config_ignore_with_key_matches_only_that_key() {
        let env = env();
        let mut findings = vec![finding_on(&env, "pkce-recommended", "OIDC_USE_PKCE"), finding_on(&env, "pkce-recommended", "LOCAL_DOMAIN")];
        let settings = config("[[ignore]]\nrule = \"pkce-recommended\"\nreason = \"Mastodon 4.2\"\nkey = \"OIDC_USE_PKCE\"\n");
        apply(&mut findings, &env, Some(&settings));
        assert_eq!(findings[0].suppressed, Some(Suppression { reason: "Mastodon 4.2".into(), source: "mastodon-oidc-check.toml:1".into() }));
        assert_eq!(findings[1].suppressed, None);
    }

    #[test]
    fn config_ignore_without_key_matches_findings_without_location() {
        let env = env();
        let mut findings = vec![Finding::new("fetch-timeout", Severity::Error, "timed out")];
        apply(&mut findings, &env, Some(&config("[[ignore]]\nrule = \"fetch-timeout\"\nreason = \"provider is in maintenance\"\n")));
        assert!(findings[0].suppressed.is_some());
    }

    #[test]
    fn inline_ignore_wins_over_config_ignore() {
        let env = env();
        let mut findings = vec![finding_on(&env, "uid-opaque-sub", "OIDC_UID_FIELD")];
        apply(&mut findings, &env, Some(&config("[[ignore]]\nrule = \"uid-opaque-sub\"\nreason = \"from the settings file\"\n")));
        assert_eq!(findings[0].suppressed.as_ref().map(|suppression| suppression.source.as_str()), Some(".env.production:2"));
    }

    #[test]
    fn finding_outside_any_file_is_not_inline_ignored() {
        let env = env();
        let mut finding = Finding::new("uid-opaque-sub", Severity::Info, "message");
        finding.related.push(Label::new(0, Span::new(0, 1)));
        let mut findings = vec![finding];
        apply(&mut findings, &env, None);
        assert_eq!(findings[0].suppressed, None);
    }
}
