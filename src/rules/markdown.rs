//! docs/rules.md, rendered from the registry: one `## <rule-id>` section per
//! rule, so the GitHub anchor of each section is the rule id that
//! `help_uri` links to.

use super::{registry, Rule};

/// The command that writes docs/rules.md; the staleness test prints it.
pub const REGENERATE: &str = "cargo run -- rules --format markdown > docs/rules.md";

/// Renders the reference page of every rule as Markdown.
pub fn markdown() -> String {
    let rules: Vec<&Rule> = registry().collect();
    let mut out = String::new();
    out.push_str("# Rules\n\n");
    out.push_str(&format!("<!-- Generated from the rule registry by `{REGENERATE}`; edit the rules in src/rules/, not this file. -->\n\n"));
    out.push_str(&format!(
        "mastodon-oidc-check has {} rules. Each section shows what `mastodon-oidc-check explain RULE` prints: \
the default severity, the inputs the rule needs (a rule whose input is missing is skipped and the report \
says why), what Mastodon or the provider does, and the fix. Rule ids are stable; the settings file \
`mastodon-oidc-check.toml` and inline `# mastodon-oidc-check: ignore` comments refer to them.\n\n",
        rules.len()
    ));

    out.push_str("| Rule | Severity | Needs | Summary |\n|---|---|---|---|\n");
    for rule in &rules {
        out.push_str(&format!("| [{id}](#{id}) | {} | {} | {} |\n", rule.severity, needs(rule), escape(rule.summary).replace('|', "\\|"), id = rule.id));
    }

    for rule in &rules {
        out.push_str(&format!("\n## {}\n\n", rule.id));
        out.push_str(&format!("Default severity: **{}**. Needs: {}.\n\n", rule.severity, needs(rule)));
        out.push_str(&escape(rule.summary));
        out.push_str(".\n");
        for paragraph in rule.explanation.split("\n\n") {
            out.push('\n');
            match paragraph.strip_prefix("Fix:") {
                Some(fix) => out.push_str(&format!("**Fix:**{}", escape(fix))),
                None => out.push_str(&escape(paragraph)),
            }
            out.push('\n');
        }
    }
    out
}

fn needs(rule: &Rule) -> String {
    rule.needs.iter().map(|input| input.as_str()).collect::<Vec<_>>().join(", ")
}

/// Escapes the characters Markdown would read as markup (`<`, `*`, `\`),
/// leaving code spans between backticks as written.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (index, part) in text.split('`').enumerate() {
        if index > 0 {
            out.push('`');
        }
        if index % 2 == 1 {
            out.push_str(part);
            continue;
        }
        for character in part.chars() {
            match character {
                '<' => out.push_str("&lt;"),
                '*' => out.push_str("\\*"),
                '\\' => out.push_str("\\\\"),
                other => out.push(other),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_section() {
        let text = markdown();
        for rule in registry() {
            assert!(text.contains(&format!("\n## {}\n", rule.id)), "no section for `{}`", rule.id);
            assert!(text.contains(&format!("[{id}](#{id})", id = rule.id)), "no table row for `{}`", rule.id);
        }
    }

    #[test]
    fn escape_keeps_code_spans() {
        assert_eq!(escape("a <b> `c<d>*` e*"), "a &lt;b> `c<d>*` e\\*");
    }
}
