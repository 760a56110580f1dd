//! `settings --all --format json` must show what Mastodon reads for every
//! input of `fixtures/dotenv-vectors.txt`: the map Ruby dotenv 3.1.4 built
//! from the file, under a real environment that had `HOME_TEST=fromrealenv`.
//! Mastodon's dotenv never overwrites a variable of the real environment, so
//! HOME_TEST is `fromrealenv` for Mastodon even where the file sets it.

mod support;

use std::collections::BTreeMap;

use serde_json::Value;
use support::{env_file, load_vectors, run, stderr};

/// Vectors this test cannot compare, and why.
const SKIPPED: &[(&str, &str)] = &[
    // Ruby runs `$(echo cmdout)` and stores its output; this tool never runs
    // a command, so `settings` shows the text as written and notes the command.
    ("15_cmd_subst", "command substitution is never run"),
    // Ruby raises Dotenv::FormatError and builds no map; `settings` lists the
    // error in `problems` (checked below) instead.
    ("36_export_alone", "Ruby raises instead of building a map"),
];

/// Runs `settings --all --format json` on one input and returns the document.
fn settings_json(input: &[u8]) -> Value {
    let (_dir, path) = env_file(input);
    let output = run(&["settings", path.to_str().unwrap(), "--all", "--show-secrets", "--format", "json", "--env", "HOME_TEST=fromrealenv"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).expect("settings prints JSON")
}

#[test]
fn settings_match_ruby_dotenv_on_every_vector() {
    let vectors = load_vectors();
    assert_eq!(vectors.len(), 76, "the vector file changed; update SKIPPED if needed");

    let mut failures = Vec::new();
    let mut compared = 0;
    for vector in &vectors {
        if SKIPPED.iter().any(|(name, _)| *name == vector.name) {
            continue;
        }
        let document = settings_json(&vector.input);
        let shown: BTreeMap<String, String> = document["values"]
            .as_object()
            .expect("values is an object")
            .iter()
            .filter(|(_, entry)| entry["source"] != "default")
            .map(|(name, entry)| (name.clone(), entry["value"].as_str().expect("a set value is a string").to_string()))
            .collect();

        let mut expected: BTreeMap<String, String> = vector
            .ruby
            .as_object()
            .unwrap_or_else(|| panic!("{}: ruby column is not a map", vector.name))
            .iter()
            .map(|(key, value)| (key.clone(), value.as_str().expect("string value").to_string()))
            .collect();
        expected.insert("HOME_TEST".into(), "fromrealenv".into());

        if shown != expected {
            failures.push(format!("{}: expected {expected:?}, got {shown:?}", vector.name));
        }
        compared += 1;
    }
    assert_eq!(compared, vectors.len() - SKIPPED.len());
    assert!(failures.is_empty(), "{} vectors differ:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn settings_report_format_error_vector() {
    let vector = load_vectors().into_iter().find(|vector| vector.name == "36_export_alone").expect("vector exists");
    let document = settings_json(&vector.input);
    let problems = document["problems"].as_array().expect("problems array");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].as_str().unwrap().contains("Dotenv::FormatError"), "{problems:?}");
}

#[test]
fn settings_note_command_substitution_vector() {
    let vector = load_vectors().into_iter().find(|vector| vector.name == "15_cmd_subst").expect("vector exists");
    let document = settings_json(&vector.input);
    let key = &document["values"]["KEY"];
    assert_eq!(key["value"], "$(echo cmdout)");
    assert!(key["notes"][0].as_str().unwrap().contains("runs `echo cmdout`"), "{key}");
}
