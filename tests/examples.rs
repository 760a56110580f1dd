//! The files under examples/ must keep working with the current command line
//! and metric names: every `mastodon-oidc-check` command they run must parse,
//! and every metric the alert rules use must be documented in docs/prometheus.md.

use std::path::{Path, PathBuf};

use clap::Parser;
use mastodon_oidc_check::cli::Cli;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap_or_else(|error| panic!("cannot read {relative}: {error}"))
}

/// Parses a command line of an example with the real argument definitions.
fn assert_parses(example: &str, command_line: &str) {
    let words: Vec<&str> = command_line.split_whitespace().collect();
    assert!(words[0].ends_with("mastodon-oidc-check"), "{example}: `{command_line}` does not run the tool");
    let mut arguments = vec!["mastodon-oidc-check"];
    arguments.extend(&words[1..]);
    if let Err(error) = Cli::try_parse_from(&arguments) {
        panic!("{example}: `{command_line}` does not parse:\n{error}");
    }
}

#[test]
fn systemd_service_command_parses() {
    let service = read("examples/systemd/mastodon-oidc-check.service");
    let joined = service.replace("\\\n", " ");
    let exec = joined.lines().find_map(|line| line.strip_prefix("ExecStart=")).expect("the service has ExecStart");
    assert_parses("systemd service", exec);
    assert!(exec.contains("--format prometheus --output /var/lib/prometheus/node-exporter/"), "{exec}");
}

#[test]
fn github_workflow_command_parses() {
    let workflow = read("examples/github/mastodon-oidc-check.yml");
    let start = workflow.find("          mastodon-oidc-check check").expect("the workflow runs a check");
    let block: Vec<&str> = workflow[start..].lines().take_while(|line| line.starts_with("          ")).map(str::trim).collect();
    let command = block.join(" ");
    assert_parses("GitHub workflow", &command);
    assert!(command.contains("--format sarif --output mastodon-oidc-check.sarif"), "{command}");
    assert!(workflow.contains("sarif_file: mastodon-oidc-check.sarif"));
}

#[test]
fn gitlab_job_command_parses() {
    let job = read("examples/gitlab/mastodon-oidc-check.gitlab-ci.yml");
    let command = job.lines().find_map(|line| line.trim().strip_prefix("- ").filter(|rest| rest.starts_with("mastodon-oidc-check check"))).expect("the job runs a check");
    assert_parses("GitLab job", command);
    assert!(command.contains("--format junit --output mastodon-oidc-check.xml"), "{command}");
    assert!(job.contains("junit: mastodon-oidc-check.xml"));
}

#[test]
fn example_settings_file_is_valid() {
    let path = root().join("examples/mastodon-oidc-check.toml");
    let text = read("examples/mastodon-oidc-check.toml");
    let config = mastodon_oidc_check::config::parse(&path, &text).unwrap_or_else(|error| panic!("{error}"));
    assert!(!config.ignores.is_empty());
    assert!(!config.severities.is_empty());
}

#[test]
fn alert_rules_use_documented_metrics() {
    let rules = read("examples/prometheus/mastodon-oidc-check.rules.yml");
    let documented = read("docs/prometheus.md");
    let metric = regex::Regex::new(r"mastodon_oidc_check_[a-z_]+").expect("valid pattern");
    let mut used: Vec<&str> = metric.find_iter(&rules).map(|found| found.as_str()).collect();
    used.sort_unstable();
    used.dedup();
    assert!(used.len() >= 5, "the alert rules use too few metrics: {used:?}");
    for name in used {
        assert!(documented.contains(name), "examples/prometheus/mastodon-oidc-check.rules.yml uses {name}, which docs/prometheus.md does not document");
    }
}
