//! Reading documents: size limit, character encoding, XML (streaming) or JSON, into raw records.

mod encoding;
mod json;
mod raw;
mod xml;

pub use encoding::decode;
pub use raw::{RawField, RawRecord, RawValue};

use serde::Serialize;

/// Limits applied before a document is parsed.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest document accepted, in bytes (default 2 MiB).
    pub max_document_bytes: usize,
    /// Deepest element nesting accepted (a batch, a record, a sub-record, a field: 4 is enough).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_document_bytes: 2 * 1024 * 1024,
            max_depth: 16,
        }
    }
}

/// Why a whole document was refused. Nothing in it is applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "rule")]
pub enum DocumentError {
    /// Over the configured size.
    #[error("文档大小 {size} 字节超过上限 {limit} 字节 (document too large)")]
    #[serde(rename = "DOC-TOO-LARGE")]
    TooLarge {
        /// Bytes received.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Nothing but white space.
    #[error("文档为空 (empty document)")]
    #[serde(rename = "DOC-EMPTY")]
    Empty,
    /// An encoding we cannot read, or bytes invalid in the declared encoding.
    #[error("无法按 {encoding} 解码文档 (cannot decode as {encoding}): {detail}")]
    #[serde(rename = "DOC-ENCODING")]
    Encoding {
        /// The declared or assumed encoding.
        encoding: String,
        /// What went wrong.
        detail: String,
    },
    /// Not well-formed XML, or XML not shaped as records of fields.
    #[error("XML 第 {line} 行第 {column} 列: {message}")]
    #[serde(rename = "DOC-XML")]
    Xml {
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// What is wrong there.
        message: String,
    },
    /// Not valid JSON, or JSON not shaped as records.
    #[error("JSON 第 {line} 行第 {column} 列: {message}")]
    #[serde(rename = "DOC-JSON")]
    Json {
        /// 1-based line (0 when the shape, not the syntax, is wrong).
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong there.
        message: String,
    },
    /// Neither XML nor JSON.
    #[error("文档既不是 XML 也不是 JSON (neither XML nor JSON)")]
    #[serde(rename = "DOC-FORMAT")]
    UnknownFormat,
}

impl DocumentError {
    /// The stable rule id of this error (`DOC-XML`, …).
    pub fn rule(&self) -> &'static str {
        match self {
            DocumentError::TooLarge { .. } => "DOC-TOO-LARGE",
            DocumentError::Empty => "DOC-EMPTY",
            DocumentError::Encoding { .. } => "DOC-ENCODING",
            DocumentError::Xml { .. } => "DOC-XML",
            DocumentError::Json { .. } => "DOC-JSON",
            DocumentError::UnknownFormat => "DOC-FORMAT",
        }
    }
}

/// The syntax a document is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The data standard's XML.
    Xml,
    /// The JSON form (`"TABLE"` plus field codes).
    Json,
}

/// XML documents up to this many bytes of text are read once and their records kept; larger
/// ones (only `gongshi check --max-document-bytes` admits them: ingest's limit is 2 MiB) are read
/// twice, so that memory holds one record at a time rather than the whole batch.
pub const KEEP_RECORDS_UP_TO: usize = 4 * 1024 * 1024;

/// A decoded, well-formed document whose records can be read one at a time.
#[derive(Debug)]
pub struct Document {
    format: Format,
    body: Body,
    record_count: usize,
}

#[derive(Debug)]
enum Body {
    /// Every JSON document, and XML up to [`KEEP_RECORDS_UP_TO`]: the records as read.
    Kept(Vec<RawRecord>),
    /// A large XML document, proven well-formed, to be read again record by record.
    Streamed { text: String, limits: Limits },
}

impl Document {
    /// Checks size, decodes (UTF-8, or GBK/GB18030 as declared), detects the format and checks the
    /// whole document's structure, so that a document is either accepted whole or refused whole.
    pub fn parse(bytes: &[u8], limits: Limits) -> Result<Document, DocumentError> {
        if bytes.len() > limits.max_document_bytes {
            return Err(DocumentError::TooLarge {
                size: bytes.len(),
                limit: limits.max_document_bytes,
            });
        }
        let text = encoding::decode(bytes)?;
        let first = text.trim_start().chars().next();
        let format = match first {
            None => return Err(DocumentError::Empty),
            Some('<') => Format::Xml,
            Some('{' | '[') => Format::Json,
            Some(_) => return Err(DocumentError::UnknownFormat),
        };
        let (body, record_count) = match format {
            Format::Xml if text.len() <= KEEP_RECORDS_UP_TO => {
                let mut records = Vec::new();
                xml::read_records(&text, limits, |r| records.push(r))?;
                let count = records.len();
                (Body::Kept(records), count)
            }
            Format::Xml => {
                // A first streaming pass proves the whole document well-formed without keeping it;
                // the second pass (for_each_record) then cannot fail half-way.
                let mut count = 0;
                xml::read_records(&text, limits, |_| count += 1)?;
                (
                    Body::Streamed {
                        text: text.into_owned(),
                        limits,
                    },
                    count,
                )
            }
            Format::Json => {
                let value = json::parse(&text)?;
                let count = json::record_count(&value)?;
                let mut records = Vec::with_capacity(count);
                json::records(&value, &mut |r| records.push(r));
                (Body::Kept(records), count)
            }
        };
        if record_count == 0 {
            return Err(DocumentError::Empty);
        }
        Ok(Document {
            format,
            body,
            record_count,
        })
    }

    /// The document's syntax.
    pub fn format(&self) -> Format {
        self.format
    }

    /// How many top-level records the document holds.
    pub fn record_count(&self) -> usize {
        self.record_count
    }

    /// Hands each record, in document order, to `visit`.
    pub fn for_each_record(&self, mut visit: impl FnMut(&RawRecord)) {
        match &self.body {
            Body::Kept(records) => records.iter().for_each(visit),
            Body::Streamed { text, limits } => {
                // Structure was proven by `parse`; an error here cannot happen, and would only
                // stop the walk early.
                let _ = xml::read_records(text, *limits, |r| visit(&r));
            }
        }
    }

    /// The table code of every record, in document order.
    pub fn tables(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.record_count);
        self.for_each_record(|r| out.push(r.table.clone()));
        out
    }

    /// All records, collected (for small documents and tests; [`Self::into_records`] does not
    /// copy them).
    pub fn records(&self) -> Vec<RawRecord> {
        let mut out = Vec::with_capacity(self.record_count);
        self.for_each_record(|r| out.push(r.clone()));
        out
    }

    /// All records, collected.
    pub fn into_records(self) -> Vec<RawRecord> {
        match self.body {
            Body::Kept(records) => records,
            Body::Streamed { text, limits } => {
                let mut out = Vec::with_capacity(self.record_count);
                let _ = xml::read_records(&text, limits, |r| out.push(r));
                out
            }
        }
    }
}

/// 1-based line and column (in characters) of a byte offset in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let mut cut = offset;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let before = &text[..cut];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}
