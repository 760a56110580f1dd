//! End-to-end tests of the machine formats (SARIF, GitHub workflow commands,
//! JUnit, Prometheus): each is produced by the built binary and checked with
//! a parser of its own format. Network runs use loopback TLS servers.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{authentik_server, env_file, fixtures, run, run_with_env, stderr, stdout, CertVariant, TestPki, AUTHENTIK_ENV};

/// Line 12 of AUTHENTIK_ENV with one `auth` segment too few: `redirect-uri-path` reports an error there.
const WRONG_REDIRECT: &str = "OIDC_REDIRECT_URI=https://mastodon.example/auth/openid_connect/callback";

/// The reason given by the inline ignore in [`ignored_env`].
const IGNORE_REASON: &str = "the provider keeps the old path until the migration";

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{} not written: {error}", path.display()))
}

fn wrong_env() -> String {
    AUTHENTIK_ENV.replace("OIDC_REDIRECT_URI=https://mastodon.example/auth/auth/openid_connect/callback", WRONG_REDIRECT)
}

/// Returns AUTHENTIK_ENV with the wrong redirect URI, ignored by an inline comment with a reason.
fn ignored_env() -> String {
    AUTHENTIK_ENV.replace(
        "OIDC_REDIRECT_URI=https://mastodon.example/auth/auth/openid_connect/callback",
        &format!("# mastodon-oidc-check: ignore redirect-uri-path -- {IGNORE_REASON}\n{WRONG_REDIRECT}"),
    )
}

fn rule_count() -> usize {
    let output = run(&["rules", "--format", "json"]);
    let rules: Value = serde_json::from_str(&stdout(&output)).expect("rules JSON");
    rules.as_array().expect("array of rules").len()
}

fn sarif_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&read(&fixtures().join("sarif/sarif-schema-2.1.0.json"))).expect("schema is JSON");
    jsonschema::draft4::options().should_validate_formats(true).build(&schema).expect("the SARIF schema compiles")
}

/// Parses a SARIF log and asserts that it matches the SARIF 2.1.0 schema.
fn valid_sarif(text: &str) -> Value {
    let log: Value = serde_json::from_str(text).expect("SARIF output is JSON");
    let validator = sarif_validator();
    let errors: Vec<String> = validator.iter_errors(&log).map(|error| format!("{}: {error}", error.instance_path())).collect();
    assert!(errors.is_empty(), "SARIF schema violations:\n{}", errors.join("\n"));
    log
}

fn sarif_run(log: &Value) -> &Value {
    &log["runs"][0]
}

/// Parses a Prometheus text file: every line must follow the text exposition
/// format, with no sample timestamp, and prometheus-parse must read every sample.
fn parse_prometheus(text: &str) -> prometheus_parse::Scrape {
    let metric = "[a-zA-Z_:][a-zA-Z0-9_:]*";
    let label = r#"[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*""#;
    let sample = regex::Regex::new(&format!(r"^{metric}(?:\{{{label}(?:,{label})*\}})? (?:-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?|NaN|\+Inf|-Inf)$")).unwrap();
    let comment = regex::Regex::new(&format!(r"^# (?:HELP {metric} .+|TYPE {metric} (?:counter|gauge|histogram|summary|untyped))$")).unwrap();

    assert!(text.ends_with('\n'), "the file must end with a line break");
    let mut sample_lines = 0;
    let mut typed: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            assert!(comment.is_match(line), "invalid comment line: {line}");
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap().to_string();
                assert!(!typed.contains(&name), "metric family {name} appears twice");
                typed.push(name);
            }
        } else {
            assert!(sample.is_match(line), "invalid sample line: {line}");
            let name = line.split(['{', ' ']).next().unwrap();
            assert_eq!(typed.last().map(String::as_str), Some(name), "sample {name} is not under its # TYPE line");
            sample_lines += 1;
        }
    }

    let lines = text.lines().map(|line| Ok(line.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("prometheus-parse reads the file");
    assert_eq!(scrape.samples.len(), sample_lines, "prometheus-parse dropped samples");
    scrape
}

/// Returns the value of a sample whose labels include `labels`.
fn gauge(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|sample| sample.metric == name && labels.iter().all(|(key, value)| sample.labels.get(key) == Some(*value)))
        .map(|sample| match sample.value {
            prometheus_parse::Value::Gauge(value) => value,
            ref other => panic!("{name} is not a gauge: {other:?}"),
        })
}

/// Asserts that docs/prometheus.md documents every metric in the scrape.
fn assert_documented(scrape: &prometheus_parse::Scrape) {
    let docs = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/prometheus.md"));
    let names: BTreeSet<&str> = scrape.samples.iter().map(|sample| sample.metric.as_str()).collect();
    for name in names {
        assert!(docs.contains(&format!("`{name}`")), "docs/prometheus.md does not document {name}");
    }
}

fn junit_cases<'a>(document: &'a roxmltree::Document) -> Vec<roxmltree::Node<'a, 'a>> {
    document.descendants().filter(|node| node.has_tag_name("testcase")).collect()
}

fn junit_case<'a>(document: &'a roxmltree::Document, rule: &str) -> roxmltree::Node<'a, 'a> {
    junit_cases(document)
        .into_iter()
        .find(|case| case.attribute("name") == Some(rule))
        .unwrap_or_else(|| panic!("no test case {rule}"))
}

fn child<'a>(node: roxmltree::Node<'a, 'a>, tag: &str) -> Option<roxmltree::Node<'a, 'a>> {
    node.children().find(|child| child.has_tag_name(tag))
}

fn suite_attribute(document: &roxmltree::Document, name: &str) -> usize {
    let suite = document.descendants().find(|node| node.has_tag_name("testsuite")).expect("a testsuite");
    suite.attribute(name).unwrap_or_else(|| panic!("testsuite has no {name}")).parse().expect("a count")
}

fn suite_property(document: &roxmltree::Document, name: &str) -> String {
    document
        .descendants()
        .find(|node| node.has_tag_name("property") && node.attribute("name") == Some(name))
        .and_then(|node| node.attribute("value"))
        .unwrap_or_else(|| panic!("no property {name}"))
        .to_string()
}

/// Output paths of a run that writes every machine format to a file.
struct Outputs {
    json: PathBuf,
    sarif: PathBuf,
    github: PathBuf,
    junit: PathBuf,
    prometheus: PathBuf,
}

impl Outputs {
    fn in_dir(dir: &Path) -> Outputs {
        Outputs {
            json: dir.join("report.json"),
            sarif: dir.join("report.sarif"),
            github: dir.join("annotations.txt"),
            junit: dir.join("junit.xml"),
            prometheus: dir.join("metrics.prom"),
        }
    }

    fn arguments(&self) -> Vec<String> {
        let pairs = [("json", &self.json), ("sarif", &self.sarif), ("github", &self.github), ("junit", &self.junit), ("prometheus", &self.prometheus)];
        pairs
            .iter()
            .flat_map(|(format, path)| ["--format".to_string(), format.to_string(), "--output".to_string(), path.display().to_string()])
            .collect()
    }
}

#[test]
fn sarif_matches_schema_and_describes_rules() {
    let (_dir, path) = env_file(&wrong_env());
    let output = run(&["check", path.to_str().unwrap(), "--offline", "--format", "sarif"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let log = valid_sarif(&stdout(&output));
    assert_eq!(log["version"], "2.1.0");

    let run = sarif_run(&log);
    let rules = run["tool"]["driver"]["rules"].as_array().expect("driver rules");
    assert_eq!(rules.len(), rule_count());
    let redirect = rules.iter().find(|rule| rule["id"] == "redirect-uri-path").expect("redirect-uri-path described");
    assert_eq!(redirect["defaultConfiguration"]["level"], "error");
    assert!(redirect["shortDescription"]["text"].as_str().is_some_and(|text| !text.is_empty()));
    assert!(redirect["help"]["text"].as_str().is_some_and(|text| text.contains("Fix:")));
    let help_uri = redirect["helpUri"].as_str().expect("helpUri");
    assert!(help_uri.starts_with(env!("CARGO_PKG_REPOSITORY")), "{help_uri}");
    assert!(help_uri.ends_with("docs/rules.md#redirect-uri-path"), "{help_uri}");

    let invocation = &run["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], true);
    assert_eq!(invocation["exitCode"], 1);

    let results = run["results"].as_array().expect("results");
    let result = results.iter().find(|result| result["ruleId"] == "redirect-uri-path").expect("redirect-uri-path result");
    assert_eq!(result["level"], "error");
    let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
    assert_eq!(rules[index]["id"], "redirect-uri-path");
    let location = &result["locations"][0]["physicalLocation"];
    assert!(location["artifactLocation"]["uri"].as_str().unwrap().ends_with(".env.production"));
    assert_eq!(location["region"]["startLine"], 12);
    assert_eq!(location["region"]["startColumn"], 19);
}

#[test]
fn sarif_lists_skipped_rules_as_notes() {
    let (_dir, path) = env_file(AUTHENTIK_ENV);
    let output = run(&["check", path.to_str().unwrap(), "--offline", "--format", "sarif"]);
    let log = valid_sarif(&stdout(&output));
    let notifications = sarif_run(&log)["invocations"][0]["toolExecutionNotifications"].as_array().expect("notifications").clone();
    let dns = notifications.iter().find(|note| note["associatedRule"]["id"] == "fetch-dns").expect("fetch-dns skipped");
    assert_eq!(dns["level"], "note");
    assert!(dns["message"]["text"].as_str().unwrap().contains("--offline"));
}

#[test]
fn github_annotations_have_workflow_command_shape() {
    let (_dir, path) = env_file(&wrong_env());
    let output = run(&["check", path.to_str().unwrap(), "--offline", "--format", "github"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(!text.contains('\u{1b}'), "ESC in GitHub output: {text:?}");

    let shape = regex::Regex::new(r"^::(error|warning|notice) (file=[^,:]+,line=\d+,col=\d+,endLine=\d+,endColumn=\d+,)?title=[^,:]+::\S.*$").unwrap();
    let commands: Vec<&str> = text.lines().filter(|line| line.starts_with("::")).collect();
    assert!(!commands.is_empty(), "{text}");
    for command in &commands {
        assert!(shape.is_match(command), "not a workflow command: {command}");
    }
    let file = path.display().to_string();
    let redirect = commands.iter().find(|command| command.contains("title=redirect-uri-path::")).expect("redirect-uri-path annotation");
    assert!(redirect.starts_with(&format!("::error file={file},line=12,col=19,")), "{redirect}");
    assert!(redirect.contains("%0Ahelp: set OIDC_REDIRECT_URI=https://mastodon.example/auth/auth/openid_connect/callback"), "{redirect}");

    let summary = text.lines().last().expect("a summary line");
    assert!(summary.starts_with("mastodon-oidc-check: 1 error"), "{summary}");
    assert!(summary.contains("exit status 1: the configuration is wrong"), "{summary}");
}

#[test]
fn junit_has_one_case_per_rule() {
    let (_dir, path) = env_file(&wrong_env());
    let output = run(&["check", path.to_str().unwrap(), "--offline", "--format", "junit"]);
    assert_eq!(output.status.code(), Some(1));
    let xml = stdout(&output);
    let document = roxmltree::Document::parse(&xml).expect("JUnit output is XML");

    let cases = junit_cases(&document);
    assert_eq!(cases.len(), rule_count());
    assert_eq!(suite_attribute(&document, "tests"), cases.len());
    let failures = cases.iter().filter(|case| child(**case, "failure").is_some()).count();
    let skipped = cases.iter().filter(|case| child(**case, "skipped").is_some()).count();
    assert_eq!(suite_attribute(&document, "failures"), failures);
    assert_eq!(suite_attribute(&document, "skipped"), skipped);
    assert_eq!(suite_attribute(&document, "errors"), 0);
    assert!(skipped > 0, "--offline skips the network rules");

    let failure = child(junit_case(&document, "redirect-uri-path"), "failure").expect("redirect-uri-path fails");
    assert_eq!(failure.attribute("type"), Some("error"));
    assert!(failure.attribute("message").unwrap().contains("OIDC_REDIRECT_URI"));
    assert!(failure.text().unwrap().contains(":12:19: error:"), "{:?}", failure.text());
    let offline = child(junit_case(&document, "fetch-dns"), "skipped").expect("fetch-dns skipped");
    assert!(offline.attribute("message").unwrap().contains("--offline"));
    assert_eq!(suite_property(&document, "exit_code"), "1");
    assert_eq!(suite_property(&document, "complete"), "true");
}

#[test]
fn prometheus_offline_file_parses() {
    let (dir, path) = env_file(&wrong_env());
    let metrics = dir.path().join("metrics.prom");
    let output = run(&["check", path.to_str().unwrap(), "--offline", "--format", "prometheus", "--output", metrics.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "", "with --output nothing goes to stdout");

    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    let scrape = parse_prometheus(&read(&metrics));
    assert_documented(&scrape);
    assert_eq!(gauge(&scrape, "mastodon_oidc_check_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), Some(1.0));
    assert!(gauge(&scrape, "mastodon_oidc_check_last_run_timestamp_seconds", &[]).is_some_and(|time| time > 1.7e9));
    assert_eq!(gauge(&scrape, "mastodon_oidc_check_exit_code", &[]), Some(1.0));
    assert_eq!(gauge(&scrape, "mastodon_oidc_check_complete", &[]), Some(1.0));
    assert_eq!(gauge(&scrape, "mastodon_oidc_check_findings", &[("severity", "error")]), Some(1.0));
    assert!(gauge(&scrape, "mastodon_oidc_check_findings", &[("severity", "warning")]).is_some());
    assert!(gauge(&scrape, "mastodon_oidc_check_findings", &[("severity", "info")]).is_some());
    assert_eq!(gauge(&scrape, "mastodon_oidc_check_rule_findings", &[("rule", "redirect-uri-path"), ("severity", "error")]), Some(1.0));
    assert!(gauge(&scrape, "mastodon_oidc_check_skipped_rules", &[]).is_some_and(|count| count > 0.0));
    assert_eq!(gauge(&scrape, "mastodon_oidc_check_provider_reachable", &[]), None, "no request was made");
}

#[test]
fn prometheus_over_tls_reports_latency_and_expiry() {
    let pki = TestPki::new();
    let server = authentik_server(&pki, CertVariant::ExpiresInDays(10));
    let (dir, path) = env_file(AUTHENTIK_ENV);
    let metrics = dir.path().join("metrics.prom");
    let resolve = server.resolve_arg("auth.example");
    let arguments = [
        "check",
        path.to_str().unwrap(),
        "--ca-file",
        pki.ca_pem_path().to_str().unwrap(),
        "--resolve",
        &resolve,
        "--format",
        "prometheus",
        "--output",
        metrics.to_str().unwrap(),
    ];
    let output = run(&arguments);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    let scrape = parse_prometheus(&read(&metrics));
    assert_documented(&scrape);
    assert_eq!(gauge(&scrape, "mastodon_oidc_check_provider_reachable", &[]), Some(1.0));
    assert_eq!(gauge(&scrape, "mastodon_oidc_check_complete", &[]), Some(1.0));
    assert_eq!(gauge(&scrape, "mastodon_oidc_check_exit_code", &[]), Some(0.0));
    let discovery = gauge(&scrape, "mastodon_oidc_check_discovery_latency_seconds", &[]).expect("discovery latency");
    assert!(discovery > 0.0, "{discovery}");
    assert!(discovery < 10.0, "{discovery}");
    let jwks = gauge(&scrape, "mastodon_oidc_check_jwks_latency_seconds", &[]).expect("JWKS latency");
    assert!(jwks > 0.0, "{jwks}");
    assert!(jwks < 10.0, "{jwks}");
    let seconds = gauge(&scrape, "mastodon_oidc_check_tls_certificate_expiry_seconds", &[]).expect("time to expiry");
    let days = seconds / 86_400.0;
    assert!((9.9..=10.0).contains(&days), "{days}");
    let not_after = gauge(&scrape, "mastodon_oidc_check_tls_certificate_not_after_timestamp_seconds", &[]).expect("expiry time");
    let checked_at = gauge(&scrape, "mastodon_oidc_check_last_run_timestamp_seconds", &[]).unwrap();
    assert!((not_after - checked_at - days * 86_400.0).abs() < 1.0);
    assert_eq!(gauge(&scrape, "mastodon_oidc_check_rule_findings", &[("rule", "tls-certificate-expiry"), ("severity", "warning")]), Some(1.0));
}

#[test]
fn every_format_in_one_run() {
    let (dir, path) = env_file(&wrong_env());
    let outputs = Outputs::in_dir(dir.path());
    let mut arguments = vec!["check".to_string(), path.display().to_string(), "--offline".into(), "--format".into(), "human".into()];
    arguments.extend(outputs.arguments());
    let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();

    let output = run(&arguments);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stdout(&output).contains("result: 1 error"), "{}", stdout(&output));

    let report: Value = serde_json::from_str(&read(&outputs.json)).expect("JSON report");
    assert_eq!(report["summary"]["exit_code"], 1);
    valid_sarif(&read(&outputs.sarif));
    assert!(read(&outputs.github).contains("title=redirect-uri-path::"));
    roxmltree::Document::parse(&read(&outputs.junit)).expect("JUnit XML");
    let scrape = parse_prometheus(&read(&outputs.prometheus));
    assert_eq!(gauge(&scrape, "mastodon_oidc_check_exit_code", &[]), Some(1.0));
}

#[test]
fn machine_format_stdout_holds_only_the_document() {
    let pki = TestPki::new();
    let server = authentik_server(&pki, CertVariant::Valid);
    let (_dir, path) = env_file(AUTHENTIK_ENV);
    let resolve = server.resolve_arg("auth.example");
    let ca = pki.ca_pem_path().display().to_string();
    for format in ["json", "sarif"] {
        let output = run(&["check", path.to_str().unwrap(), "--ca-file", &ca, "--resolve", &resolve, "--format", format, "-vv"]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        serde_json::from_str::<Value>(&stdout(&output)).unwrap_or_else(|error| panic!("stdout of --format {format} is not only JSON: {error}"));
        assert!(!stderr(&output).is_empty(), "-vv logs go to stderr");
    }
}

#[test]
fn progress_line_hidden_off_terminal() {
    let pki = TestPki::new();
    let server = authentik_server(&pki, CertVariant::Valid);
    let (_dir, path) = env_file(AUTHENTIK_ENV);
    let resolve = server.resolve_arg("auth.example");
    let output = run(&["check", path.to_str().unwrap(), "--ca-file", pki.ca_pem_path().to_str().unwrap(), "--resolve", &resolve]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let errors = stderr(&output);
    assert!(!errors.contains("fetching the"), "{errors}");
    assert!(!errors.contains('\u{1b}'), "{errors:?}");
}

#[test]
fn no_color_keeps_output_plain() {
    let (_dir, path) = env_file(&wrong_env());
    for format in ["human", "github"] {
        let output = run_with_env(&["check", path.to_str().unwrap(), "--offline", "--format", format], &[("NO_COLOR", "1")]);
        assert!(!stdout(&output).contains('\u{1b}'), "ESC in --format {format}");
    }
}

#[test]
fn connect_refused_in_every_format() {
    let (dir, path) = env_file(AUTHENTIK_ENV);
    let outputs = Outputs::in_dir(dir.path());
    let mut arguments = vec!["check".to_string(), path.display().to_string(), "--resolve".into(), "auth.example=127.0.0.1:1".into()];
    arguments.extend(outputs.arguments());
    let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();

    let output = run(&arguments);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));

    let report: Value = serde_json::from_str(&read(&outputs.json)).expect("JSON report");
    assert_eq!(report["summary"]["exit_code"], 3);

    let log = valid_sarif(&read(&outputs.sarif));
    let run = sarif_run(&log);
    assert_eq!(run["invocations"][0]["executionSuccessful"], false);
    assert_eq!(run["invocations"][0]["exitCode"], 3);
    let notifications = run["invocations"][0]["toolExecutionNotifications"].as_array().expect("notifications");
    let connect = notifications.iter().find(|note| note["associatedRule"]["id"] == "fetch-connect").expect("fetch-connect notification");
    assert_eq!(connect["level"], "error");
    assert!(connect["message"]["text"].as_str().unwrap().starts_with("could not check: "));
    let results = run["results"].as_array().expect("results");
    assert!(!results.iter().any(|result| result["ruleId"] == "fetch-connect"), "a failed check is not a result");

    let github = read(&outputs.github);
    let annotation = github.lines().find(|line| line.contains("title=could not check%3A fetch-connect::")).expect("fetch-connect annotation");
    assert!(annotation.starts_with("::error "), "{annotation}");
    assert!(annotation.contains("::could not check, which is not a configuration error: cannot connect"), "{annotation}");
    assert!(github.lines().last().unwrap().contains("exit status 3: a check could not complete"), "{github}");

    let xml = read(&outputs.junit);
    let document = roxmltree::Document::parse(&xml).expect("JUnit XML");
    let case = junit_case(&document, "fetch-connect");
    let error = child(case, "error").expect("fetch-connect is a JUnit error");
    assert_eq!(error.attribute("type"), Some("could-not-check"));
    assert!(error.attribute("message").unwrap().starts_with("could not check: "));
    assert!(child(case, "failure").is_none(), "a failed check is not a failure");
    assert!(suite_attribute(&document, "errors") >= 1);
    assert_eq!(suite_property(&document, "complete"), "false");
    assert_eq!(suite_property(&document, "exit_code"), "3");

    let scrape = parse_prometheus(&read(&outputs.prometheus));
    assert_documented(&scrape);
    assert_eq!(gauge(&scrape, "mastodon_oidc_check_complete", &[]), Some(0.0));
    assert_eq!(gauge(&scrape, "mastodon_oidc_check_exit_code", &[]), Some(3.0));
    assert_eq!(gauge(&scrape, "mastodon_oidc_check_provider_reachable", &[]), Some(0.0));
    assert!(gauge(&scrape, "mastodon_oidc_check_incomplete_checks", &[("rule", "fetch-connect")]).is_some_and(|count| count >= 1.0));
    assert_eq!(gauge(&scrape, "mastodon_oidc_check_findings", &[("severity", "error")]), Some(0.0), "a failed check is not a configuration error");
}

#[test]
fn ignored_finding_shows_reason_in_every_format() {
    let (dir, path) = env_file(&ignored_env());
    let outputs = Outputs::in_dir(dir.path());
    let mut arguments = vec!["check".to_string(), path.display().to_string(), "--offline".into()];
    arguments.extend(outputs.arguments());
    let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();

    let output = run(&arguments);
    assert_eq!(output.status.code(), Some(0), "the only error is ignored: {}", stderr(&output));

    let log = valid_sarif(&read(&outputs.sarif));
    let results = sarif_run(&log)["results"].as_array().expect("results").clone();
    let result = results.iter().find(|result| result["ruleId"] == "redirect-uri-path").expect("the ignored finding stays a result");
    assert_eq!(result["suppressions"][0]["kind"], "external");
    assert_eq!(result["suppressions"][0]["justification"], IGNORE_REASON);

    let github = read(&outputs.github);
    let notice = github.lines().find(|line| line.contains("title=ignored%3A redirect-uri-path::")).expect("ignored annotation");
    assert!(notice.starts_with("::notice "), "{notice}");
    assert!(notice.contains(IGNORE_REASON), "{notice}");
    assert!(github.lines().last().unwrap().contains("1 ignored"), "{github}");

    let xml = read(&outputs.junit);
    let document = roxmltree::Document::parse(&xml).expect("JUnit XML");
    let skipped = child(junit_case(&document, "redirect-uri-path"), "skipped").expect("an all-ignored rule is skipped");
    assert!(skipped.attribute("message").unwrap().contains(IGNORE_REASON));

    let scrape = parse_prometheus(&read(&outputs.prometheus));
    assert_documented(&scrape);
    assert_eq!(gauge(&scrape, "mastodon_oidc_check_suppressed_findings", &[("rule", "redirect-uri-path")]), Some(1.0));
    assert_eq!(gauge(&scrape, "mastodon_oidc_check_findings", &[("severity", "error")]), Some(0.0));
}

#[test]
fn rules_rejects_a_check_only_format() {
    let output = run(&["rules", "--format", "sarif"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("'sarif'"), "{}", stderr(&output));
}
