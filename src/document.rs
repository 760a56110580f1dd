//! Provider documents (discovery document, JWKS) as fetched or read from a file.

use std::time::Duration;

use serde_json::{Map, Value};

/// Kind of provider document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentKind {
    Discovery,
    Jwks,
}

impl DocumentKind {
    pub fn noun(self) -> &'static str {
        match self {
            DocumentKind::Discovery => "discovery document",
            DocumentKind::Jwks => "JWKS",
        }
    }
}

/// Facts about the provider's TLS certificate, read from a successful connection.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CertificateInfo {
    pub subject: String,
    pub issuer: String,
    /// Seconds since the Unix epoch.
    pub not_after: i64,
    pub dns_names: Vec<String>,
}

/// A provider document with its raw text. Rules read `json`, the raw value,
/// never a typed model, so one malformed field cannot hide the others.
#[derive(Clone, Debug)]
pub struct Document {
    pub kind: DocumentKind,
    /// The URL fetched, or the file path given with `--discovery-file`/`--jwks-file`.
    pub source: String,
    pub from_file: bool,
    pub text: String,
    /// `None` when the text is not JSON; the fetch reported that already.
    pub json: Option<Value>,
    pub latency: Option<Duration>,
    pub certificate: Option<CertificateInfo>,
    /// Response headers, lower-cased names.
    pub headers: Vec<(String, String)>,
}

impl Document {
    pub fn from_text(kind: DocumentKind, source: impl Into<String>, text: String, from_file: bool) -> Self {
        let json = serde_json::from_str(&text).ok();
        Document {
            kind,
            source: source.into(),
            from_file,
            text,
            json,
            latency: None,
            certificate: None,
            headers: Vec::new(),
        }
    }

    pub fn object(&self) -> Option<&Map<String, Value>> {
        self.json.as_ref().and_then(Value::as_object)
    }

    pub fn str(&self, field: &str) -> Option<&str> {
        self.object()?.get(field)?.as_str()
    }

    /// Returns the string members of an array field; `None` when the field is
    /// missing or not an array.
    pub fn strings(&self, field: &str) -> Option<Vec<&str>> {
        let array = self.object()?.get(field)?.as_array()?;
        Some(array.iter().filter_map(Value::as_str).collect())
    }

    pub fn has(&self, field: &str) -> bool {
        self.object().is_some_and(|object| object.contains_key(field))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}
