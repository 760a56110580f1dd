//! Every line of `fixtures/dotenv-vectors.txt` contains one env-file input and the
//! map that Ruby dotenv 3.1.4 builds from it (Mastodon's loader). The reader
//! must build the same map. The real environment of those runs had
//! `HOME_TEST=fromrealenv`.

mod support;

use std::collections::BTreeMap;

use mastodon_oidc_check::envfile::{parse, SourceFile};
use support::load_vectors;

fn real_env(name: &str) -> Option<String> {
    (name == "HOME_TEST").then(|| "fromrealenv".to_string())
}

#[test]
fn vectors_file_has_all_cases() {
    assert_eq!(load_vectors().len(), 76);
}

#[test]
fn reader_matches_ruby_dotenv_on_every_vector() {
    let mut failures = Vec::new();
    for vector in load_vectors() {
        let parsed = parse(SourceFile::new(&vector.name, &vector.input), &real_env);

        if let serde_json::Value::String(error) = &vector.ruby {
            // Ruby raised instead of building a map.
            let reported = parsed.format_error.as_ref().map(|(_, message)| message.clone());
            if !error.contains("FormatError") || reported.is_none() {
                failures.push(format!("{}: expected a format error, got {reported:?}", vector.name));
            }
            continue;
        }

        let mut ours = BTreeMap::new();
        for entry in &parsed.entries {
            let effective = parsed.get(&entry.key).expect("key was just seen");
            if !effective.commands.is_empty() {
                // Ruby runs `$(...)`; the reader reports the command instead.
                ours.insert(entry.key.clone(), format!("<runs {}>", effective.commands.join(";")));
                continue;
            }
            ours.insert(entry.key.clone(), effective.value.clone());
        }
        let expected: BTreeMap<String, String> = vector
            .ruby
            .as_object()
            .expect("ruby column is an object")
            .iter()
            .map(|(key, value)| (key.clone(), value.as_str().expect("string value").to_string()))
            .collect();

        let expected_with_commands: BTreeMap<String, String> = expected
            .iter()
            .map(|(key, value)| {
                let ran = vector.name == "15_cmd_subst" && key == "KEY";
                let shown = if ran { format!("<runs echo {value}>") } else { value.clone() };
                (key.clone(), shown)
            })
            .collect();
        if ours != expected_with_commands {
            failures.push(format!("{}: expected {expected_with_commands:?}, got {ours:?}", vector.name));
        }
    }
    assert!(failures.is_empty(), "{} vectors differ:\n{}", failures.len(), failures.join("\n"));
}
