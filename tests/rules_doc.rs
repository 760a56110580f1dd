//! docs/rules.md is generated from the rule registry and must match it.

use std::path::Path;

#[test]
fn rules_md_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.md");
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = mastodon_oidc_check::rules::markdown();
    assert!(
        written == generated,
        "docs/rules.md is out of date with the rule registry; regenerate it with `cargo run -- rules --format markdown > docs/rules.md`"
    );
}

#[test]
fn rules_md_has_a_section_per_rule() {
    let generated = mastodon_oidc_check::rules::markdown();
    for rule in mastodon_oidc_check::rules::registry() {
        let heading = format!("\n## {}\n", rule.id);
        assert!(generated.contains(&heading), "no `## {}` section", rule.id);
        let uri = mastodon_oidc_check::rules::help_uri(rule.id);
        assert!(uri.ends_with(&format!("docs/rules.md#{}", rule.id)), "help URI {uri} does not point at the section");
    }
}
