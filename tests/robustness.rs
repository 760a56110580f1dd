//! Untrusted input must never panic the reader or any offline rule. A fixed
//! pseudo-random generator builds env files from the characters that matter to
//! the grammar (quotes, `$`, parentheses, `#`, backslashes, separators, line
//! breaks, multibyte text), so a failure reproduces exactly.

use std::collections::HashMap;

use mastodon_oidc_check::envfile::{EnvSet, SourceFile};
use mastodon_oidc_check::redact::Redactor;
use mastodon_oidc_check::rules::{self, Context, Input};

/// xorshift64*: deterministic and dependency-free.
struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const PIECES: &[&str] = &[
    "OIDC_ENABLED", "OIDC_CLIENT_SECRET", "OIDC_SCOPE", "OIDC_ISSUER", "OIDC_REDIRECT_URI", "KEY", "export ", "=", ": ", " ", "\t", "\n",
    "\r\n", "\r", "'", "\"", "$", "${", "}", "$(", ")", "(", "#", "\\", "\\n", "true", "True", "https://auth.example/", "/auth/auth/openid_connect/callback",
    "openid,profile", "é", "山田", "\u{FEFF}", "\u{1b}", "\0", ",", "*", "-", ".", "abc", "12345",
];

fn random_text(generator: &mut Generator) -> Vec<u8> {
    let length = generator.next() % 60;
    let mut text = String::new();
    for _ in 0..length {
        text.push_str(generator.pick(PIECES));
    }
    let mut bytes = text.into_bytes();
    // Now and then an invalid UTF-8 byte, as in a file saved in Latin-1.
    if generator.next() % 7 == 0 {
        let position = (generator.next() as usize) % (bytes.len() + 1);
        bytes.insert(position, 0xE9);
    }
    bytes
}

#[test]
fn random_env_files_never_panic() {
    let mut generator = Generator(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20000 {
        let bytes = random_text(&mut generator);
        let env = EnvSet::from_sources(vec![SourceFile::new(".env.production", &bytes)], HashMap::new());
        let mut context = Context::new(&env);
        context.unavailable = vec![
            (Input::Discovery, "robustness test".into()),
            (Input::Jwks, "robustness test".into()),
            (Input::Network, "robustness test".into()),
        ];
        let (findings, _) = rules::run(&context);

        // Every label must stay inside its file, or rendering would panic.
        for finding in &findings {
            for label in finding.primary.iter().chain(finding.related.iter()) {
                let text = &env.files[label.file].source.text;
                assert!(label.span.start <= label.span.end, "inverted span in {}", finding.rule);
                assert!(label.span.end <= text.len(), "span past the end in {}", finding.rule);
                assert!(text.is_char_boundary(label.span.start), "span start splits a character in {}", finding.rule);
                assert!(text.is_char_boundary(label.span.end), "span end splits a character in {}", finding.rule);
            }
        }
        let masked = Redactor::from_env(&env).mask_source(&env, 0);
        assert_eq!(masked.len(), env.files[0].source.text.len(), "masking changed the length");
    }
}

#[test]
fn random_env_files_render_in_every_format() {
    use mastodon_oidc_check::check::{self, Options};
    use mastodon_oidc_check::finding::Severity;
    use mastodon_oidc_check::report::{human, json, Report};

    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join(".env.production");
    let mut generator = Generator(0xD1B5_4A32_D192_ED03);
    for _ in 0..400 {
        std::fs::write(&path, random_text(&mut generator)).expect("env file written");
        let options = Options { path: path.clone(), offline: true, ..Options::default() };
        let outcome = check::run(&options).expect("an offline run of a readable file succeeds");
        let report = Report::new(outcome, Severity::Error);
        let text = human::render(&report, human::Style { color: false, width: 80 });
        assert!(text.contains("result:"));
        let document: serde_json::Value = serde_json::from_str(&json::render(&report)).expect("the JSON report parses");
        assert!(document["findings"].is_array());
    }
}
