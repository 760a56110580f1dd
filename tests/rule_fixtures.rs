//! Every rule has fixtures under `fixtures/rules/<rule-id>/`: case folders
//! whose names start with `fires` (the rule must report) or `quiet` (it must
//! not). A case folder holds:
//!
//! - `env.production`, or a `mastodon/` folder read as a Mastodon directory,
//!   or a `target` file naming the path to check relative to the case;
//! - optional `discovery.json` and `jwks.json`, passed as saved documents;
//! - optional `server.json`, a loopback TLS server the run fetches from
//!   (see `tests/support/server.rs`); `--resolve` and `--ca-file` are added;
//! - optional `args`: further `check` arguments, whitespace-separated;
//! - optional `expect`: lines `severity: LEVEL` or `message: TEXT` that the
//!   rule's findings must match (every line must hold for some finding), and
//!   `absent: TEXT` for text that none of them may contain.
//!
//! Without documents, a server or network arguments (`--resolve`, `--timeout`)
//! the case runs with `--offline`. Network cases always get `--resolve-only`,
//! so no test ever queries DNS.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use clap::Parser;
use mastodon_oidc_check::check;
use mastodon_oidc_check::cli::{Cli, Command};
use mastodon_oidc_check::finding::Finding;
use mastodon_oidc_check::rules;

fn fixtures_root() -> PathBuf {
    support::fixtures().join("rules")
}

fn case_dirs(rule_dir: &Path) -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = fs::read_dir(rule_dir)
        .map(|entries| entries.filter_map(Result::ok).map(|entry| entry.path()).filter(|path| path.is_dir()).collect())
        .unwrap_or_default();
    cases.sort();
    cases
}

/// Runs one case and returns the findings of every rule.
fn run_case(case: &Path) -> Vec<Finding> {
    let target = if let Ok(relative) = fs::read_to_string(case.join("target")) {
        case.join(relative.trim())
    } else if case.join("mastodon").is_dir() {
        case.join("mastodon")
    } else {
        case.join("env.production")
    };
    let mut arguments: Vec<String> = vec!["mastodon-oidc-check".into(), "check".into(), target.display().to_string()];

    let discovery = case.join("discovery.json");
    let jwks = case.join("jwks.json");
    let server_file = case.join("server.json");
    let extra = fs::read_to_string(case.join("args")).unwrap_or_default();
    let network_args = ["--resolve", "--timeout", "--resolve-only"].iter().any(|flag| extra.split_whitespace().any(|word| word == *flag));
    let mut _server = None;
    let mut _pki = None;
    if server_file.is_file() || network_args {
        arguments.push("--resolve-only".into());
    }
    if server_file.is_file() {
        let pki = support::TestPki::new();
        let server = support::ReplayServer::from_fixture(case, &pki);
        arguments.push("--ca-file".into());
        arguments.push(pki.ca_pem_path().display().to_string());
        arguments.push("--resolve".into());
        arguments.push(server.resolve_arg(server.host()));
        _server = Some(server);
        _pki = Some(pki);
    } else {
        if discovery.is_file() {
            arguments.push("--discovery-file".into());
            arguments.push(discovery.display().to_string());
        }
        if jwks.is_file() {
            arguments.push("--jwks-file".into());
            arguments.push(jwks.display().to_string());
        }
        if !discovery.is_file() && !jwks.is_file() && !network_args {
            arguments.push("--offline".into());
        }
    }
    arguments.extend(extra.split_whitespace().map(str::to_string));

    let cli = Cli::try_parse_from(&arguments).unwrap_or_else(|error| panic!("{}: bad args: {error}", case.display()));
    let Command::Check(args) = cli.command else { panic!("not a check command") };
    let outcome = check::run(&args.to_options()).unwrap_or_else(|error| panic!("{}: run failed: {error}", case.display()));
    outcome.findings
}

fn check_expectations(case: &Path, rule_findings: &[&Finding]) -> Vec<String> {
    let Ok(expect) = fs::read_to_string(case.join("expect")) else { return Vec::new() };
    let mut problems = Vec::new();
    for line in expect.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let holds = if let Some(level) = line.strip_prefix("severity:") {
            rule_findings.iter().any(|finding| finding.severity.as_str() == level.trim())
        } else if let Some(text) = line.strip_prefix("message:") {
            rule_findings.iter().any(|finding| finding.message.contains(text.trim()))
        } else if let Some(text) = line.strip_prefix("absent:") {
            // Text that no finding of the rule may contain, such as part of a secret.
            !rule_findings.iter().any(|finding| {
                let help = finding.help.as_deref().unwrap_or("");
                finding.message.contains(text.trim()) || help.contains(text.trim())
            })
        } else if let Some(text) = line.strip_prefix("help:") {
            rule_findings.iter().any(|finding| finding.help.as_deref().is_some_and(|help| help.contains(text.trim())))
        } else {
            problems.push(format!("{}: unknown expect line `{line}`", case.display()));
            continue;
        };
        if !holds {
            let messages: Vec<String> = rule_findings.iter().map(|finding| format!("[{}] {}", finding.severity, finding.message)).collect();
            problems.push(format!("{}: `{line}` does not hold; findings: {messages:?}", case.display()));
        }
    }
    problems
}

#[test]
fn every_rule_fixture_behaves() {
    let mut problems = Vec::new();
    for rule in rules::registry() {
        let rule_dir = fixtures_root().join(rule.id);
        for case in case_dirs(&rule_dir) {
            let name = case.file_name().unwrap().to_string_lossy().into_owned();
            let findings = run_case(&case);
            let rule_findings: Vec<&Finding> = findings.iter().filter(|finding| finding.rule == rule.id).collect();
            if name.starts_with("fires") && rule_findings.is_empty() {
                problems.push(format!("{}: expected `{}` to fire, it did not", case.display(), rule.id));
            } else if name.starts_with("quiet") && !rule_findings.is_empty() {
                let messages: Vec<&str> = rule_findings.iter().map(|finding| finding.message.as_str()).collect();
                problems.push(format!("{}: expected `{}` to stay quiet, it reported {messages:?}", case.display(), rule.id));
            } else if !name.starts_with("fires") && !name.starts_with("quiet") {
                problems.push(format!("{}: case folders must start with `fires` or `quiet`", case.display()));
            }
            if name.starts_with("fires") {
                problems.extend(check_expectations(&case, &rule_findings));
            }
        }
    }
    assert!(problems.is_empty(), "{} fixture problems:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn every_rule_has_fixtures_both_ways() {
    let mut missing = Vec::new();
    for rule in rules::registry() {
        let cases = case_dirs(&fixtures_root().join(rule.id));
        let names: Vec<String> = cases.iter().map(|case| case.file_name().unwrap().to_string_lossy().into_owned()).collect();
        if !names.iter().any(|name| name.starts_with("fires")) {
            missing.push(format!("{}: no `fires*` case", rule.id));
        }
        if !names.iter().any(|name| name.starts_with("quiet")) {
            missing.push(format!("{}: no `quiet*` case", rule.id));
        }
    }
    assert!(missing.is_empty(), "rules without fixtures:\n{}", missing.join("\n"));
}

#[test]
fn fixture_folders_name_real_rules() {
    for entry in fs::read_dir(fixtures_root()).expect("fixtures/rules exists") {
        let name = entry.expect("readable entry").file_name().to_string_lossy().into_owned();
        assert!(rules::find(&name).is_some(), "fixtures/rules/{name} names no rule");
    }
}
