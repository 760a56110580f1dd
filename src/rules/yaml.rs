//! Rules for Mastodon trees whose `config/omniauth.yml` holds the whole OIDC
//! block as YAML with ERB, a revision seen on Mastodon's main branch after
//! mid-2025. There each value is rendered into YAML and parsed by Psych before
//! Mastodon uses it, and a missing value becomes nil instead of the gem's
//! default. Released Mastodon 4.3 to 4.5 read the variables directly, so these
//! rules stay quiet unless such a file is found in the checked directory.

use crate::finding::Severity;
use crate::mastodon::{self, Parse};

use super::{Context, Input, Rule, Sink};

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: "yaml-retyped-value",
        severity: Severity::Error,
        summary: "A value would change type or fail to parse when rendered into config/omniauth.yml",
        explanation: "With the YAML revision of config/omniauth.yml, each OIDC value is written into YAML by ERB \
and parsed by Psych. Psych turns an all-digit value (`12345`) or `0x1F` into an Integer, `true`, `false`, \
`yes`, `no`, `on` and `off` into booleans, and `null` or `~` into nil; it raises while Mastodon boots on a \
value that starts with `*` (an alias), `&`, `!`, `%`, `@` or a backtick, or that contains `: `; and it \
drops everything from ` #` on. A client id such as `12345` then reaches the gem as a number, and a client \
secret starting with `*` stops Mastodon from booting.\n\nFix: wrap the value in single quotes inside double \
quotes in the env file (OIDC_CLIENT_ID=\"'12345'\"), so YAML reads it as a string, or choose a value without \
these characters.",
        needs: &[Input::Env],
        check: check_retyped_value,
    },
    Rule {
        id: "yaml-nil-default",
        severity: Severity::Error,
        summary: "OIDC_RESPONSE_TYPE or OIDC_UID_FIELD is unset, which the YAML revision turns into nil",
        explanation: "The YAML revision of config/omniauth.yml writes unset variables as nil, and OmniAuth's \
option merge lets nil override the gem's defaults. An unset OIDC_RESPONSE_TYPE then gives no response \
type, which the callback rejects, and an unset OIDC_UID_FIELD makes the uid lookup call `nil.to_sym`: \
every login fails.\n\nFix: set OIDC_RESPONSE_TYPE=code and OIDC_UID_FIELD explicitly (sub, or the claim \
you use).",
        needs: &[Input::Env],
        check: check_nil_default,
    },
];

/// Returns why Psych would not read `value` as the same string, if it would not.
fn yaml_problem(value: &str) -> Option<&'static str> {
    let trimmed = value.trim();
    let lowered = trimmed.to_ascii_lowercase();
    if !trimmed.is_empty() && trimmed.chars().all(|c| c.is_ascii_digit()) {
        return Some("YAML reads it as an Integer");
    }
    if lowered.starts_with("0x") && trimmed.len() > 2 && trimmed[2..].chars().all(|c| c.is_ascii_hexdigit()) {
        return Some("YAML reads it as a hexadecimal Integer");
    }
    if matches!(lowered.as_str(), "true" | "false" | "yes" | "no" | "on" | "off") {
        return Some("YAML reads it as a boolean");
    }
    if matches!(lowered.as_str(), "null" | "~") {
        return Some("YAML reads it as nil");
    }
    if trimmed.starts_with(['*', '&', '!', '%', '@', '`']) {
        return Some("YAML rejects or reinterprets its first character, and Mastodon may not boot");
    }
    if trimmed.contains(": ") {
        return Some("YAML rejects `: ` inside a plain value, and Mastodon does not boot");
    }
    if trimmed.contains(" #") {
        return Some("YAML drops everything from ` #` on");
    }
    None
}

fn check_retyped_value(context: &Context, sink: &mut Sink) {
    let Some(file) = &context.env.yaml_omniauth else { return };
    for variable in mastodon::VARIABLES {
        // Flags are compared inside ERB and the scope becomes a YAML list, so
        // only values rendered as plain scalars matter here.
        if !variable.name.starts_with("OIDC_") || !matches!(variable.parse, Parse::Text | Parse::Secret) {
            continue;
        }
        let Some(var) = context.var(variable.name) else { continue };
        let Some(problem) = yaml_problem(var.value) else { continue };
        let shown = if variable.parse == Parse::Secret { "the value".to_string() } else { format!("`{}`", var.value) };
        sink.emit(format!("{} is {shown}, and {} renders it into YAML: {problem}", variable.name, file.display()))
            .at(var.label)
            .help(format!("wrap the value in single quotes inside double quotes: {}=\"'…'\"", variable.name));
    }
}

fn check_nil_default(context: &Context, sink: &mut Sink) {
    let Some(file) = &context.env.yaml_omniauth else { return };
    if !context.settings.oidc_enabled() {
        return;
    }
    for (name, value) in [("OIDC_RESPONSE_TYPE", "code"), ("OIDC_UID_FIELD", "sub")] {
        if context.var(name).is_some() {
            continue;
        }
        sink.emit(format!("{name} is unset, and {} writes it as nil, which overrides the gem's default: every login fails", file.display()))
            .help(format!("set {name}={value} explicitly"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_problems_match_psych() {
        let retyped = ["12345", "0x1F", "true", "Yes", "null", "~", "*abc", "a: b", "@x", "abc #x"];
        for value in retyped {
            assert!(yaml_problem(value).is_some(), "{value} changes in YAML");
        }
    }

    #[test]
    fn plain_strings_stay_strings() {
        for value in ["mastodon", "abc123", "https://auth.example/application/o/mastodon/", "preferred_username", "a#b"] {
            assert!(yaml_problem(value).is_none(), "{value} stays a string");
        }
    }
}
