//! The data standard's XML, read as a stream: one record's fields are held at a time, never the
//! whole batch. A document is one record (root element = table code) or `<BATCH>` of records.

use super::{DocumentError, Limits, RawField, RawRecord, RawValue, line_column};
use crate::values::text::{all_xml_chars, is_xml_char, is_xml_name};
use quick_xml::Reader;
use quick_xml::events::Event;
use std::borrow::Cow;

const BATCH: &str = "BATCH";

/// An element being read: it becomes a field (text only) or a (sub-)record (child elements).
/// Its name and, in the common case of one text run, its text borrow from the document.
struct Frame<'a> {
    name: Cow<'a, str>,
    text: Cow<'a, str>,
    /// Text other than white space was seen in an element that also has child elements.
    mixed: bool,
    fields: Vec<RawField>,
    children: Vec<RawRecord>,
    has_elements: bool,
    /// Where its start tag begins, in bytes into the document.
    offset: usize,
    /// Its start tag's line, counted once it is known to be a record (its first child element,
    /// or its end): a field never needs one (counting at every start tag was a quarter of this
    /// reader's own time in a profile; the whole check gained within the machine's noise).
    line: Option<usize>,
}

impl<'a> Frame<'a> {
    fn new(name: Cow<'a, str>, offset: usize) -> Self {
        Self {
            name,
            text: Cow::Borrowed(""),
            mixed: false,
            fields: Vec::new(),
            children: Vec::new(),
            has_elements: false,
            offset,
            line: None,
        }
    }

    /// A first child element: the text read so far can only be white space between elements.
    fn start_child(&mut self) {
        if !self.has_elements {
            self.has_elements = true;
            // A record: room for a typical table's fields at once rather than growing four times.
            self.fields.reserve(32);
            self.mixed |= !self.text.trim().is_empty();
            self.text = Cow::Borrowed("");
        }
    }

    fn push_text(&mut self, content: Cow<'a, str>) {
        if self.has_elements {
            self.mixed |= !content.trim().is_empty();
        } else if self.text.is_empty() {
            self.text = content;
        } else {
            self.text.to_mut().push_str(&content);
        }
    }

    fn into_record(self, lines: &mut LineTracker<'_>) -> RawRecord {
        RawRecord {
            line: self.line.unwrap_or_else(|| lines.line_at(self.offset)),
            table: self.name.into_owned(),
            fields: self.fields,
            children: self.children,
            // `read_records` refuses any other character before a record is handed out.
            xml_chars_only: true,
        }
    }
}

/// `part`, a slice the reader handed out, as the same bytes of `source` (so with its lifetime);
/// `None` when the reader built `part` itself.
fn in_source<'a>(source: &'a str, part: &str) -> Option<&'a str> {
    let start = (part.as_ptr() as usize).checked_sub(source.as_ptr() as usize)?;
    source.get(start..start.checked_add(part.len())?)
}

/// Counts lines incrementally so that finding a record's line stays linear in the document. Asked
/// in document order (a record's line is asked for at its first child, before any later start
/// tag's); an offset before the last one asked (only a record with no child element, asked at its
/// end) is counted from the start.
struct LineTracker<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl LineTracker<'_> {
    fn line_at(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        if offset < self.pos {
            return line_column(self.text, offset).0;
        }
        self.line += self.text.as_bytes()[self.pos..offset]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        self.pos = offset;
        self.line
    }
}

/// Reads every record of `text`, handing each to `emit` as soon as its end tag is read.
pub fn read_records<'a>(
    text: &'a str,
    limits: Limits,
    mut emit: impl FnMut(RawRecord),
) -> Result<(), DocumentError> {
    let mut reader = Reader::from_str(text);
    let mut lines = LineTracker {
        text,
        pos: 0,
        line: 1,
    };
    let mut stack: Vec<Frame<'a>> = Vec::new();
    let mut record_depth: Option<usize> = None;
    let mut root_done = false;
    let err_at = |offset: u64, message: String| {
        let (line, column) = line_column(text, usize::try_from(offset).unwrap_or(usize::MAX));
        DocumentError::Xml {
            line,
            column,
            message,
        }
    };

    loop {
        let before = reader.buffer_position();
        let event = reader.read_event().map_err(|e| {
            err_at(
                reader.error_position(),
                format!("XML 格式错误 (malformed XML): {e}"),
            )
        })?;
        match event {
            Event::Start(start) | Event::Empty(start) if root_done => {
                let name = start.name().as_ref().to_owned();
                return Err(err_at(
                    before,
                    format!("根元素之后又出现元素 <{name}> (a second root element)"),
                ));
            }
            ev @ (Event::Start(_) | Event::Empty(_)) => {
                let is_empty = matches!(ev, Event::Empty(_));
                let (Event::Start(start) | Event::Empty(start)) = ev else {
                    unreachable!()
                };
                let name = start.name();
                let name = match in_source(text, name.as_ref()) {
                    Some(borrowed) => Cow::Borrowed(borrowed),
                    None => Cow::Owned(name.as_ref().to_owned()),
                };
                if !is_xml_name(&name) {
                    return Err(err_at(
                        before,
                        format!(
                            "元素名 {name:?} 不是 XML 名称，文档不是格式正确的 XML (an element name XML 1.0 does not allow: not well-formed)"
                        ),
                    ));
                }
                if stack.len() >= limits.max_depth {
                    return Err(err_at(
                        before,
                        format!("元素嵌套超过 {} 层 (nesting too deep)", limits.max_depth),
                    ));
                }
                if stack.is_empty() {
                    record_depth = Some(usize::from(name == BATCH));
                } else if let Some(parent) = stack.last_mut() {
                    if parent.line.is_none() {
                        parent.line = Some(lines.line_at(parent.offset));
                    }
                    parent.start_child();
                }
                stack.push(Frame::new(
                    name,
                    usize::try_from(before).unwrap_or(usize::MAX),
                ));
                if is_empty {
                    close(
                        &mut stack,
                        record_depth,
                        &mut emit,
                        &mut root_done,
                        &mut lines,
                    )
                    .map_err(|m| err_at(reader.buffer_position(), m))?;
                }
            }
            Event::End(_) => {
                close(
                    &mut stack,
                    record_depth,
                    &mut emit,
                    &mut root_done,
                    &mut lines,
                )
                .map_err(|m| err_at(reader.buffer_position(), m))?;
            }
            Event::Text(t) => {
                not_xml_chars(&t[..], before).map_err(|(at, m)| err_at(at, m))?;
                push_text(&mut stack, t.xml10_content()).map_err(|m| err_at(before, m))?;
            }
            Event::CData(c) => {
                // The CDATA content starts after `<![CDATA[`.
                not_xml_chars(&c[..], before + 9).map_err(|(at, m)| err_at(at, m))?;
                push_text(&mut stack, c.xml10_content()).map_err(|m| err_at(before, m))?;
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(ch)) if !is_xml_char(ch) => {
                        return Err(err_at(
                            before,
                            format!(
                                "字符引用 &{}; 指向 XML 1.0 不允许的字符 U+{:04X}，文档不是格式正确的 XML (a character reference to a character XML 1.0 does not allow: not well-formed)",
                                &*r,
                                u32::from(ch)
                            ),
                        ));
                    }
                    Ok(Some(ch)) => ch.to_string(),
                    Ok(None) => match r.as_ref() {
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "amp" => "&".into(),
                        "apos" => "'".into(),
                        "quot" => "\"".into(),
                        other => {
                            return Err(err_at(
                                before,
                                format!(
                                    "未定义的实体 &{other};，DTD 中声明的实体一概不展开 (undefined entity: entities declared in a DTD are never expanded)"
                                ),
                            ));
                        }
                    },
                    Err(e) => {
                        return Err(err_at(
                            before,
                            format!("无效的字符引用 (invalid character reference): {e}"),
                        ));
                    }
                };
                push_text(&mut stack, Cow::Owned(resolved)).map_err(|m| err_at(before, m))?;
            }
            Event::Eof => {
                if let Some(open) = stack.last() {
                    return Err(err_at(
                        reader.buffer_position(),
                        format!(
                            "文档在元素 <{}> 结束前终止 (document ends inside <{}>)",
                            open.name, open.name
                        ),
                    ));
                }
                if !root_done {
                    return Err(err_at(
                        reader.buffer_position(),
                        "文档没有根元素 (no root element)".into(),
                    ));
                }
                return Ok(());
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
}

/// Refuses raw text holding a character outside XML 1.0's `Char` production (a literal control
/// character is as ill-formed as a reference to one), with the offset of the first.
fn not_xml_chars(raw: &str, start: u64) -> Result<(), (u64, String)> {
    if all_xml_chars(raw) {
        return Ok(());
    }
    match raw.char_indices().find(|(_, c)| !is_xml_char(*c)) {
        None => Ok(()),
        Some((i, c)) => Err((
            start + i as u64,
            format!(
                "文本含有 XML 1.0 不允许的字符 U+{:04X}，文档不是格式正确的 XML (a character XML 1.0 does not allow: not well-formed)",
                u32::from(c)
            ),
        )),
    }
}

fn push_text<'a>(stack: &mut [Frame<'a>], content: Cow<'a, str>) -> Result<(), String> {
    match stack.last_mut() {
        Some(frame) => {
            frame.push_text(content);
            Ok(())
        }
        None if content.trim().is_empty() => Ok(()),
        None => Err("根元素之外出现文本 (text outside the root element)".into()),
    }
}

fn close(
    stack: &mut Vec<Frame<'_>>,
    record_depth: Option<usize>,
    emit: &mut impl FnMut(RawRecord),
    root_done: &mut bool,
    lines: &mut LineTracker<'_>,
) -> Result<(), String> {
    let frame = stack.pop().ok_or("多余的结束标签 (unexpected end tag)")?;
    let depth = stack.len();
    if frame.mixed {
        return Err(format!(
            "元素 <{}> 同时含有文本和子元素 (mixed text and elements)",
            frame.name
        ));
    }
    if depth == 0 {
        *root_done = true;
    }
    match record_depth {
        Some(rd) if depth == rd => {
            emit(frame.into_record(lines));
            Ok(())
        }
        Some(rd) if depth < rd => {
            // The BATCH element itself closing.
            Ok(())
        }
        _ => {
            let parent = stack
                .last_mut()
                .ok_or("记录结构错误 (record structure broken)")?;
            if frame.has_elements {
                parent.children.push(frame.into_record(lines));
            } else {
                parent.fields.push(RawField {
                    name: frame.name.into_owned(),
                    value: RawValue::Text(frame.text.into_owned()),
                });
            }
            Ok(())
        }
    }
}
