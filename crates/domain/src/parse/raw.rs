//! Raw records: a table code with its fields as sent, before any typing.

/// A field value as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawValue {
    /// Element text or a JSON string/number/bool.
    Text(String),
    /// A JSON array of scalars (multi-valued code fields may come this way).
    List(Vec<String>),
}

/// One field of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawField {
    /// The field code (element name or JSON key).
    pub name: String,
    /// What was sent.
    pub value: RawValue,
}

/// One record: root element (or `"TABLE"`) plus fields and nested sub-records.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawRecord {
    /// The table code, e.g. `TENDER_CANDIDATE_ANNOUNCE`.
    pub table: String,
    /// Fields in document order.
    pub fields: Vec<RawField>,
    /// Nested sub-records (e.g. `TENDER_CANDIDATE`) in document order.
    pub children: Vec<RawRecord>,
    /// 1-based line where the record starts (0 for JSON).
    pub line: usize,
    /// Every name and text in it holds only characters XML 1.0 allows: the XML reader refuses a
    /// document with any other, so its records need no second look (JSON's may hold controls,
    /// which validation removes with a warning).
    pub xml_chars_only: bool,
}

impl RawRecord {
    /// The first value of a field sent as text.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.fields.iter().find_map(|f| match &f.value {
            RawValue::Text(t) if f.name == name => Some(t.as_str()),
            _ => None,
        })
    }
}
