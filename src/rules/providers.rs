use crate::finding::Severity;

use super::{Context, Input, Rule, Sink};

pub(super) const RULES: &[Rule] = &[];
