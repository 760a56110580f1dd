//! Every line of `fixtures/dotenv-vectors.txt` holds one env-file input and the
//! map that Ruby dotenv 3.1.4 builds from it (Mastodon's loader). The reader
//! must build the same map. The real environment of those runs had
//! `HOME_TEST=fromrealenv`.

use std::collections::BTreeMap;

use mastodon_oidc_check::envfile::{parse, SourceFile};

struct Vector {
    name: String,
    input: Vec<u8>,
    ruby: serde_json::Value,
}

/// Decodes the escapes the vector file uses for its input column.
fn decode_input(encoded: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let bytes = encoded.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] != b'\\' || index + 1 == bytes.len() {
            out.push(bytes[index]);
            index += 1;
            continue;
        }
        match bytes[index + 1] {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'\\' => out.push(b'\\'),
            b'\'' => out.push(b'\''),
            b'"' => out.push(b'"'),
            b'x' => {
                let hex = &encoded[index + 2..index + 4];
                out.push(u8::from_str_radix(hex, 16).expect("valid \\x escape"));
                index += 2;
            }
            other => panic!("unknown escape \\{}", other as char),
        }
        index += 2;
    }
    out
}

fn load_vectors() -> Vec<Vector> {
    let text = include_str!("../fixtures/dotenv-vectors.txt");
    text.lines()
        .filter(|line| line.starts_with("SAME ") || line.starts_with("DIFF "))
        .map(|line| {
            let columns: Vec<&str> = line.splitn(4, " | ").collect();
            let name = columns[0].split_whitespace().nth(1).expect("case name").to_string();
            let ruby = columns[2].strip_prefix("ruby: ").expect("ruby column");
            Vector {
                name,
                input: decode_input(columns[1]),
                ruby: serde_json::from_str(ruby).expect("ruby column is JSON"),
            }
        })
        .collect()
}

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
