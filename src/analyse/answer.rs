//! The `report_fix` contract: what the model answers, as heal's own types.
//!
//! The field names are a contract with users and other parts of the product: `fixable`,
//! `reason`, `error_category`, `root_cause`, `affected_file`, `confidence`, `explanation`,
//! `changes_summary`, `edits` [{`file`, `search`, `replace`}].

use serde::{Deserialize, Serialize};

/// What kind of error the model says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Syntax,
    Import,
    Type,
    Attribute,
    Name,
    Logic,
    Api,
    Config,
    External,
    Other,
}

impl Category {
    pub const ALL: [&'static str; 10] = [
        "syntax",
        "import",
        "type",
        "attribute",
        "name",
        "logic",
        "api",
        "config",
        "external",
        "other",
    ];

    /// The category's name, as the answer and the record spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Syntax => "syntax",
            Category::Import => "import",
            Category::Type => "type",
            Category::Attribute => "attribute",
            Category::Name => "name",
            Category::Logic => "logic",
            Category::Api => "api",
            Category::Config => "config",
            Category::External => "external",
            Category::Other => "other",
        }
    }
}

/// How sure the model is. Ordered: `Low < Medium < High`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    pub fn parse(s: &str) -> Option<Confidence> {
        match s {
            "low" => Some(Confidence::Low),
            "medium" => Some(Confidence::Medium),
            "high" => Some(Confidence::High),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// One change: `search` is an exact excerpt of the current file, `replace` what it becomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    /// Repo-relative path, as the model gave it (not yet checked).
    pub file: String,
    pub search: String,
    pub replace: String,
}

/// A complete, well-typed `report_fix` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportFix {
    pub fixable: bool,
    pub reason: String,
    pub error_category: Category,
    pub root_cause: String,
    pub affected_file: String,
    pub confidence: Confidence,
    pub explanation: String,
    pub changes_summary: String,
    pub edits: Vec<Edit>,
}
