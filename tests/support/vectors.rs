//! The cases of `fixtures/dotenv-vectors.txt`: each line contains one env-file
//! input and the map that Ruby dotenv 3.1.4 (Mastodon's loader) builds from it,
//! under a real environment that had `HOME_TEST=fromrealenv`.

use serde_json::Value;

/// One case of the vector file.
pub struct Vector {
    pub name: String,
    /// The env-file bytes, with the escapes of the input column decoded.
    pub input: Vec<u8>,
    /// The map Ruby dotenv built, or a string with the error it raised.
    pub ruby: Value,
}

/// Reads every `SAME` and `DIFF` line of the vector file.
pub fn load_vectors() -> Vec<Vector> {
    let text = include_str!("../../fixtures/dotenv-vectors.txt");
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
