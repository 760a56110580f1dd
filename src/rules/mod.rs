//! The rule registry.
//!
//! A rule is a pure function over an already built [`Context`]: it never
//! fetches and never prints. Each rule reads the raw documents on its own, so
//! one defect never hides another. Severity overrides and ignores are applied
//! later, in one place (`crate::report::policy`), never inside a rule.

mod authentik;
mod context;
mod discovery;
mod envfile;
mod fetch;
mod identity;
mod ignore_comments;
mod markdown;
mod probe;
mod providers;
mod redirect;
mod settings;
mod tls;
mod yaml;

use crate::finding::{Finding, FindingMut, Severity};

pub use context::{unix_now, Context, FetchFailure, FetchFailureKind, Var};
pub use tls::{format_utc, ExpiryThresholds, DEFAULT_ERROR_DAYS, DEFAULT_WARNING_DAYS};
pub use markdown::markdown;

/// An input a rule needs. A rule whose inputs are missing is skipped, and the
/// report gives the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Input {
    /// The env files alone.
    Env,
    /// The discovery document, fetched or from `--discovery-file`.
    Discovery,
    /// The JWKS, fetched or from `--jwks-file`.
    Jwks,
    /// The outcome of network requests made by this run.
    Network,
    /// The authorization and token probes of the provider (`--probe`).
    ProviderProbe,
    /// The probe of the running Mastodon (`--probe`).
    MastodonProbe,
    /// The authentik release, learned from the server or `--authentik-version`.
    AuthentikVersion,
    /// The authentik provider read through the admin API (`--authentik-token-file`).
    AuthentikApi,
}

impl Input {
    pub fn as_str(self) -> &'static str {
        match self {
            Input::Env => "env",
            Input::Discovery => "discovery",
            Input::Jwks => "jwks",
            Input::Network => "network",
            Input::ProviderProbe => "provider-probe",
            Input::MastodonProbe => "mastodon-probe",
            Input::AuthentikVersion => "authentik-version",
            Input::AuthentikApi => "authentik-api",
        }
    }
}

/// One check with its documentation.
pub struct Rule {
    /// Stable kebab-case id; scripts and ignores refer to it.
    pub id: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    /// Explanation of Mastodon's or the provider's behaviour, with the fix.
    pub explanation: &'static str,
    pub needs: &'static [Input],
    pub check: fn(&Context, &mut Sink),
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule").field("id", &self.id).finish()
    }
}

/// Collects the findings of one rule.
pub struct Sink {
    rule: &'static Rule,
    findings: Vec<Finding>,
}

impl Sink {
    pub fn new(rule: &'static Rule) -> Self {
        Sink { rule, findings: Vec::new() }
    }

    /// Emits a finding with the rule's default severity.
    pub fn emit(&mut self, message: impl Into<String>) -> FindingMut<'_> {
        self.findings.push(Finding::new(self.rule.id, self.rule.severity, message));
        FindingMut(self.findings.last_mut().expect("a finding was just pushed"))
    }

    pub fn into_findings(self) -> Vec<Finding> {
        self.findings
    }
}

/// Returns every rule, in report order.
pub fn registry() -> impl Iterator<Item = &'static Rule> {
    [
        envfile::RULES,
        settings::RULES,
        identity::RULES,
        redirect::RULES,
        fetch::RULES,
        discovery::RULES,
        providers::RULES,
        yaml::RULES,
        ignore_comments::RULES,
        tls::RULES,
        probe::PROVIDER_RULES,
        probe::MASTODON_RULES,
        authentik::CAVEAT_RULES,
        authentik::CROSS_CHECK_RULES,
    ]
    .into_iter()
    .flatten()
}

pub fn find(id: &str) -> Option<&'static Rule> {
    registry().find(|rule| rule.id == id)
}

/// Returns the URL of a rule's section in docs/rules.md, whose headings are the rule ids.
pub fn help_uri(id: &str) -> String {
    format!("{}/blob/main/docs/rules.md#{id}", env!("CARGO_PKG_REPOSITORY"))
}

/// A rule that did not run, and why.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Skipped {
    pub rule: &'static str,
    pub reason: String,
}

/// Runs every rule whose inputs are present.
pub fn run(context: &Context) -> (Vec<Finding>, Vec<Skipped>) {
    let mut findings = Vec::new();
    let mut skipped = Vec::new();
    for rule in registry() {
        if let Some(reason) = context.missing_input(rule.needs) {
            skipped.push(Skipped { rule: rule.id, reason });
            continue;
        }
        let mut sink = Sink::new(rule);
        (rule.check)(context, &mut sink);
        findings.extend(sink.into_findings());
    }
    (findings, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique() {
        let mut ids: Vec<&str> = registry().map(|rule| rule.id).collect();
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), count);
    }

    #[test]
    fn rule_ids_are_kebab_case() {
        for rule in registry() {
            let valid = !rule.id.is_empty()
                && rule.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !rule.id.starts_with('-')
                && !rule.id.ends_with('-')
                && !rule.id.contains("--");
            assert!(valid, "rule id `{}` is not kebab-case", rule.id);
        }
    }

    #[test]
    fn rules_have_documentation() {
        for rule in registry() {
            assert!(rule.summary.len() >= 10, "rule `{}` lacks a summary", rule.id);
            assert!(!rule.summary.ends_with('.'), "summary of `{}` ends with a period", rule.id);
            assert!(rule.explanation.len() >= 80, "rule `{}` lacks an explanation", rule.id);
            assert!(!rule.needs.is_empty(), "rule `{}` declares no input", rule.id);
        }
    }
}
