//! Findings: what a rule reports, before any output format is chosen.

use std::fmt;

use serde::Serialize;

use crate::envfile::Span;

/// Severity of a finding, ordered so `--fail-on` can compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            other => Err(format!("unknown severity `{other}`: expected error, warning or info")),
        }
    }
}

/// A place in one of the checked env files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// Index into `EnvSet::files`.
    pub file: usize,
    pub span: Span,
    pub message: Option<String>,
}

impl Label {
    pub fn new(file: usize, span: Span) -> Self {
        Label { file, span, message: None }
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
}

/// Why a finding is not counted: an ignore from the config file or an inline comment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Suppression {
    pub reason: String,
    /// Place of the ignore, such as `mastodon-oidc-check.toml` or `.env.production:14`.
    pub source: String,
}

/// One diagnostic produced by a rule.
#[derive(Clone, Debug)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    pub help: Option<String>,
    pub primary: Option<Label>,
    pub related: Vec<Label>,
    /// Set when the finding means a check could not complete (DNS, connect,
    /// timeout, a server error), as opposed to a wrong configuration.
    pub incomplete: bool,
    pub suppressed: Option<Suppression>,
}

impl Finding {
    pub fn new(rule: &'static str, severity: Severity, message: impl Into<String>) -> Self {
        Finding {
            rule,
            severity,
            message: message.into(),
            help: None,
            primary: None,
            related: Vec::new(),
            incomplete: false,
            suppressed: None,
        }
    }
}

/// Builder-style additions to the finding a rule just emitted.
pub struct FindingMut<'a>(pub(crate) &'a mut Finding);

impl FindingMut<'_> {
    pub fn help(self, help: impl Into<String>) -> Self {
        self.0.help = Some(help.into());
        self
    }

    pub fn at(self, label: Option<Label>) -> Self {
        if self.0.primary.is_none() {
            self.0.primary = label;
        } else if let Some(label) = label {
            self.0.related.push(label);
        }
        self
    }

    pub fn related(self, label: Option<Label>) -> Self {
        if let Some(label) = label {
            self.0.related.push(label);
        }
        self
    }

    /// Changes the severity for this one finding. The rule's explanation
    /// must state when it does.
    pub fn severity(self, severity: Severity) -> Self {
        self.0.severity = severity;
        self
    }

    pub fn incomplete(self) -> Self {
        self.0.incomplete = true;
        self
    }
}
