//! End-to-end tests of severity overrides and ignores (the settings file and
//! inline comments), and of the troubleshooting subcommands `settings`,
//! `completions` and `man`. All runs are offline.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;
use support::{env_file, json_stdout, stderr, stdout, AUTHENTIK_ENV};

/// Runs the binary through [`support::run_with_env`], wide enough that the human output never wraps a reason.
fn run(arguments: &[&str]) -> Output {
    support::run_with_env(arguments, &[("COLUMNS", "400")])
}

const CALLBACK: &str = "OIDC_REDIRECT_URI=https://mastodon.example/auth/auth/openid_connect/callback\n";

/// The configuration with Devise's usual callback path instead of Mastodon's,
/// which `redirect-uri-path` reports as an error.
fn wrong_redirect_env() -> String {
    AUTHENTIK_ENV.replace(CALLBACK, "OIDC_REDIRECT_URI=https://mastodon.example/users/auth/openid_connect/callback\n")
}

/// A temporary Mastodon directory with `.env.production` and, optionally,
/// `mastodon-oidc-check.toml` beside it.
struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new(env: &str, settings: Option<&str>) -> Case {
        let (dir, _) = env_file(env);
        if let Some(settings) = settings {
            std::fs::write(dir.path().join("mastodon-oidc-check.toml"), settings).expect("settings written");
        }
        Case { dir }
    }

    fn env_path(&self) -> PathBuf {
        self.dir.path().join(".env.production")
    }

    fn settings_path(&self) -> PathBuf {
        self.dir.path().join("mastodon-oidc-check.toml")
    }

    fn check(&self, extra: &[&str]) -> Output {
        let path = self.env_path();
        let mut arguments = vec!["check", path.to_str().unwrap(), "--offline"];
        arguments.extend_from_slice(extra);
        run(&arguments)
    }

    fn check_json(&self, extra: &[&str]) -> (Output, Value) {
        let mut arguments = vec!["--format", "json"];
        arguments.extend_from_slice(extra);
        let output = self.check(&arguments);
        let report = json_stdout(&output);
        (output, report)
    }
}

fn findings_of<'a>(report: &'a Value, rule: &str) -> Vec<&'a Value> {
    report["findings"].as_array().expect("findings array").iter().filter(|finding| finding["rule"] == rule).collect()
}

#[test]
fn redirect_fixture_fails_without_settings() {
    let case = Case::new(&wrong_redirect_env(), None);
    let (output, report) = case.check_json(&[]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(findings_of(&report, "redirect-uri-path").len(), 1);
}

#[test]
fn override_raises_severity_and_exit_code() {
    let env = format!("{AUTHENTIK_ENV}OIDC_USE_PKCE=True\n");
    let plain = Case::new(&env, None);
    let (output, report) = plain.check_json(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert_eq!(findings_of(&report, "boolean-not-true")[0]["severity"], "warning");

    let strict = Case::new(&env, Some("[rules.boolean-not-true]\nseverity = \"error\"\n"));
    let (output, report) = strict.check_json(&[]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert_eq!(findings_of(&report, "boolean-not-true")[0]["severity"], "error");
    assert_eq!(report["summary"]["error"], 1);
}

#[test]
fn override_lowers_severity_and_exit_code() {
    let case = Case::new(&wrong_redirect_env(), Some("[rules.redirect-uri-path]\nseverity = \"info\"\n"));
    let (output, report) = case.check_json(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert_eq!(findings_of(&report, "redirect-uri-path")[0]["severity"], "info");
}

const IGNORE_REDIRECT: &str = "[[ignore]]\nrule = \"redirect-uri-path\"\nreason = \"the reverse proxy rewrites the callback path\"\nkey = \"OIDC_REDIRECT_URI\"\n";

#[test]
fn config_ignore_shows_reason_in_json_and_passes() {
    let case = Case::new(&wrong_redirect_env(), Some(IGNORE_REDIRECT));
    let (output, report) = case.check_json(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let finding = findings_of(&report, "redirect-uri-path")[0];
    assert_eq!(finding["suppressed"]["reason"], "the reverse proxy rewrites the callback path");
    let source = format!("{}:1", case.settings_path().display());
    assert_eq!(finding["suppressed"]["source"], source.as_str());
    assert_eq!(report["summary"]["error"], 0);
    assert_eq!(report["summary"]["suppressed"], 1);
}

#[test]
fn config_ignore_shows_reason_in_human_output() {
    let case = Case::new(&wrong_redirect_env(), Some(IGNORE_REDIRECT));
    let output = case.check(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let text = stdout(&output);
    assert!(text.contains("the reverse proxy rewrites the callback path"), "{text}");
    assert!(text.contains("mastodon-oidc-check.toml:1"), "{text}");
    assert!(text.contains("1 ignored"), "{text}");
}

#[test]
fn config_ignore_reason_in_machine_formats() {
    let case = Case::new(&wrong_redirect_env(), Some(IGNORE_REDIRECT));
    let reason = "the reverse proxy rewrites the callback path";
    for format in ["sarif", "github", "junit"] {
        let output = case.check(&["--format", format]);
        assert_eq!(output.status.code(), Some(0), "{format}: {}", stderr(&output));
        assert!(stdout(&output).contains(reason), "{format} output lacks the reason:\n{}", stdout(&output));
    }

    let sarif: Value = serde_json::from_str(&stdout(&case.check(&["--format", "sarif"]))).expect("SARIF is JSON");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    let result = results.iter().find(|result| result["ruleId"] == "redirect-uri-path").expect("the ignored finding stays a result");
    assert_eq!(result["suppressions"][0]["justification"], reason);

    let metrics = stdout(&case.check(&["--format", "prometheus"]));
    assert!(metrics.contains("mastodon_oidc_check_suppressed_findings{rule=\"redirect-uri-path\"} 1"), "{metrics}");
    assert!(metrics.contains("mastodon_oidc_check_findings{severity=\"error\"} 0"), "{metrics}");
}

#[test]
fn config_ignore_for_other_key_does_not_match() {
    let settings = IGNORE_REDIRECT.replace("key = \"OIDC_REDIRECT_URI\"", "key = \"OIDC_ISSUER\"");
    let case = Case::new(&wrong_redirect_env(), Some(&settings));
    let (output, report) = case.check_json(&[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(findings_of(&report, "redirect-uri-path")[0]["suppressed"].is_null());
}

#[test]
fn explicit_config_flag_is_used() {
    let case = Case::new(&wrong_redirect_env(), None);
    let elsewhere = tempfile::tempdir().expect("temporary directory");
    let settings = elsewhere.path().join("ci.toml");
    std::fs::write(&settings, IGNORE_REDIRECT).expect("settings written");
    let (output, report) = case.check_json(&["--config", settings.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(findings_of(&report, "redirect-uri-path")[0]["suppressed"]["source"].as_str().unwrap().ends_with("ci.toml:1"));
}

#[test]
fn settings_file_in_checked_directory_is_used() {
    let case = Case::new(&wrong_redirect_env(), Some(IGNORE_REDIRECT));
    let output = run(&["check", case.dir.path().to_str().unwrap(), "--offline"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
}

/// Returns the wrong redirect URI configuration with `comment` on the line above OIDC_REDIRECT_URI (line 12).
fn inline_ignored_env(comment: &str) -> String {
    wrong_redirect_env().replace("OIDC_REDIRECT_URI=", &format!("{comment}\nOIDC_REDIRECT_URI="))
}

#[test]
fn inline_ignore_shows_reason_in_json_and_passes() {
    let env = inline_ignored_env("# mastodon-oidc-check: ignore redirect-uri-path -- the reverse proxy rewrites the callback path");
    let case = Case::new(&env, None);
    let (output, report) = case.check_json(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let finding = findings_of(&report, "redirect-uri-path")[0];
    assert_eq!(finding["suppressed"]["reason"], "the reverse proxy rewrites the callback path");
    let source = format!("{}:12", case.env_path().display());
    assert_eq!(finding["suppressed"]["source"], source.as_str());
    assert!(findings_of(&report, "invalid-ignore-comment").is_empty());
}

#[test]
fn inline_ignore_shows_reason_in_human_output() {
    let env = inline_ignored_env("# mastodon-oidc-check: ignore redirect-uri-path -- the reverse proxy rewrites the callback path");
    let case = Case::new(&env, None);
    let output = case.check(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let text = stdout(&output);
    assert!(text.contains("the reverse proxy rewrites the callback path"), "{text}");
    assert!(text.contains(".env.production:12"), "{text}");
}

#[test]
fn inline_ignore_without_reason_reported() {
    let env = inline_ignored_env("# mastodon-oidc-check: ignore redirect-uri-path");
    let case = Case::new(&env, None);
    let (output, report) = case.check_json(&[]);
    assert_eq!(output.status.code(), Some(1), "the redirect finding still counts");
    assert!(findings_of(&report, "redirect-uri-path")[0]["suppressed"].is_null());
    let invalid = findings_of(&report, "invalid-ignore-comment");
    assert_eq!(invalid.len(), 1);
    assert_eq!(invalid[0]["severity"], "warning");
    assert_eq!(invalid[0]["location"]["line"], 12);
}

#[test]
fn inline_ignore_with_unknown_rule_suggests_nearest() {
    let env = inline_ignored_env("# mastodon-oidc-check: ignore redirect-uri-paths -- typo");
    let case = Case::new(&env, None);
    let (output, report) = case.check_json(&[]);
    assert_eq!(output.status.code(), Some(1));
    let invalid = findings_of(&report, "invalid-ignore-comment");
    assert!(invalid[0]["message"].as_str().unwrap().contains("`redirect-uri-paths`"), "{invalid:?}");
    assert!(invalid[0]["help"].as_str().unwrap().contains("did you mean `redirect-uri-path`?"), "{invalid:?}");
}

#[test]
fn ignore_without_reason_exits_2() {
    let case = Case::new(AUTHENTIK_ENV, Some("[[ignore]]\nrule = \"pkce-recommended\"\n"));
    let output = case.check(&[]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains(&format!("{}:1:", case.settings_path().display())), "{message}");
    assert!(message.contains("has no `reason`"), "{message}");
}

#[test]
fn unknown_settings_key_exits_2() {
    let case = Case::new(AUTHENTIK_ENV, Some("[rules.pkce-recommended]\nseverity = \"info\"\nlevel = \"info\"\n"));
    let output = case.check(&[]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains(&format!("{}:3:", case.settings_path().display())), "{message}");
    assert!(message.contains("unknown field `level`"), "{message}");
}

#[test]
fn unknown_rule_in_settings_exits_2_with_suggestion() {
    let case = Case::new(AUTHENTIK_ENV, Some("[[ignore]]\nrule = \"pkce-recomended\"\nreason = \"x\"\n"));
    let output = case.check(&[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("did you mean `pkce-recommended`?"), "{}", stderr(&output));
}

#[test]
fn missing_explicit_settings_file_exits_2() {
    let case = Case::new(AUTHENTIK_ENV, None);
    let output = case.check(&["--config", "/nonexistent/mastodon-oidc-check.toml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("cannot read settings file /nonexistent/mastodon-oidc-check.toml"), "{}", stderr(&output));
}

#[test]
fn settings_masks_client_secret() {
    let case = Case::new(AUTHENTIK_ENV, None);
    let path = case.env_path();
    let human = run(&["settings", path.to_str().unwrap()]);
    assert_eq!(human.status.code(), Some(0), "{}", stderr(&human));
    assert!(!stdout(&human).contains("mastodon-test-secret"), "{}", stdout(&human));
    assert!(stdout(&human).contains("<hidden, 20 characters>"), "{}", stdout(&human));

    let json = run(&["settings", path.to_str().unwrap(), "--format", "json"]);
    let document: Value = serde_json::from_str(&stdout(&json)).expect("JSON");
    let secret = &document["values"]["OIDC_CLIENT_SECRET"];
    assert!(secret["value"].is_null(), "{secret}");
    assert_eq!(secret["masked"], true);
    assert!(!stdout(&json).contains("mastodon-test-secret"));
}

#[test]
fn settings_show_secrets_prints_client_secret() {
    let case = Case::new(AUTHENTIK_ENV, None);
    let path = case.env_path();
    let json = run(&["settings", path.to_str().unwrap(), "--format", "json", "--show-secrets"]);
    let document: Value = serde_json::from_str(&stdout(&json)).expect("JSON");
    assert_eq!(document["values"]["OIDC_CLIENT_SECRET"]["value"], "mastodon-test-secret");
    let human = run(&["settings", path.to_str().unwrap(), "--show-secrets"]);
    assert!(stdout(&human).contains("mastodon-test-secret"));
}

#[test]
fn settings_json_names_sources_and_defaults() {
    let case = Case::new(&format!("{AUTHENTIK_ENV}OIDC_USE_PKCE=True\n"), None);
    let path = case.env_path();
    let output = run(&["settings", path.to_str().unwrap(), "--format", "json", "--env", "OIDC_DISPLAY_NAME=Company SSO"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let document: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    let values = &document["values"];

    assert_eq!(values["OIDC_ISSUER"]["value"], "https://auth.example/application/o/mastodon/");
    assert_eq!(values["OIDC_ISSUER"]["source"]["path"], path.to_str().unwrap());
    assert_eq!(values["OIDC_ISSUER"]["source"]["line"], 6);
    assert_eq!(values["OIDC_DISPLAY_NAME"]["value"], "Company SSO");
    assert_eq!(values["OIDC_DISPLAY_NAME"]["source"], "process");
    assert_eq!(values["OIDC_DISPLAY_NAME"]["shadowed"][0]["line"], 4);
    assert_eq!(values["OIDC_SEND_NONCE"]["source"], "default");
    assert_eq!(values["OIDC_SEND_NONCE"]["value"], "true");
    assert_eq!(values["OIDC_USE_PKCE"]["parsed"], false);
    assert_eq!(values["OIDC_SCOPE"]["parsed"], serde_json::json!(["openid", "profile", "email"]));
    assert_eq!(values["OIDC_CLIENT_AUTH_METHOD"]["parsed"], "client_secret_basic");
    assert!(values.get("REDIS_HOST").is_none());
    assert!(values.get("SECRET_KEY_BASE").is_none(), "only OIDC settings without --all");
}

#[test]
fn settings_all_lists_every_variable_and_masks_secrets() {
    let case = Case::new(&format!("{AUTHENTIK_ENV}REDIS_HOST=redis\n"), None);
    let path = case.env_path();
    let output = run(&["settings", path.to_str().unwrap(), "--all", "--format", "json"]);
    let document: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    assert_eq!(document["values"]["REDIS_HOST"]["value"], "redis");
    assert_eq!(document["values"]["SECRET_KEY_BASE"]["masked"], true);
    assert!(!stdout(&output).contains("placeholder-not-a-real-value"));
}

#[test]
fn settings_missing_file_exits_2() {
    let output = run(&["settings", "/nonexistent/.env.production"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("cannot read /nonexistent/.env.production"));
}

#[test]
fn completions_are_generated_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = run(&["completions", shell]);
        assert_eq!(output.status.code(), Some(0), "{shell}: {}", stderr(&output));
        let script = stdout(&output);
        assert!(script.contains("mastodon-oidc-check"), "{shell} script names no command");
        assert!(script.contains("show-secrets"), "{shell} script lacks the settings options");
    }
}

/// Sources the bash script and returns its completions for a command line.
fn bash_complete(words: &[&str]) -> String {
    let script = stdout(&run(&["completions", "bash"]));
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("completion.bash");
    std::fs::write(&path, script).expect("script written");
    let words_text = words.iter().map(|word| format!("'{word}'")).collect::<Vec<_>>().join(" ");
    // Bash calls a completion function with the command, the current word and the previous word.
    let current = words[words.len() - 1];
    let previous = words[words.len() - 2];
    let program = format!(
        "source '{}'; COMP_WORDS=({words_text}); COMP_CWORD={}; COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}; _mastodon__oidc__check mastodon-oidc-check '{current}' '{previous}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path.display(),
        words.len() - 1,
        words.join(" ")
    );
    let output = Command::new("bash").args(["-c", &program]).output().expect("bash runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn bash_completes_check_options() {
    let options = bash_complete(&["mastodon-oidc-check", "check", "--fo"]);
    assert!(options.lines().any(|line| line == "--format"), "{options}");
    let severities = bash_complete(&["mastodon-oidc-check", "check", "--fail-on", ""]);
    assert!(severities.lines().any(|line| line == "warning"), "{severities}");
}

#[test]
fn man_page_is_roff() {
    let output = run(&["man"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let page = stdout(&output);
    assert!(page.starts_with(".ie") || page.contains(".TH mastodon-oidc-check"), "{page}");
    assert!(page.contains("settings"), "the page lists the subcommands");
}

#[test]
fn man_page_of_subcommand_lists_its_options() {
    let output = run(&["man", "check"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let page = stdout(&output);
    assert!(page.contains(".TH mastodon-oidc-check-check"), "{page}");
    assert!(page.contains("fail\\-on"), "{page}");
    let unknown = run(&["man", "no-such-command"]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn explain_prints_help_url() {
    let output = run(&["explain", "invalid-ignore-comment"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("/blob/main/docs/rules.md#invalid-ignore-comment"), "{}", stdout(&output));
}

/// Keeps the tests above honest: without the injected mistake the
/// configuration exits with 0, so a status 1 comes from that mistake alone.
#[test]
fn base_configuration_passes() {
    let case = Case::new(AUTHENTIK_ENV, None);
    let (output, report) = case.check_json(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", report["findings"]);
}
