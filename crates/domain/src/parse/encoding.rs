//! Character encodings: UTF-8 by default; GBK / GB18030 / GB2312 when the XML declaration says so.

use super::DocumentError;
use encoding_rs::{Encoding, UTF_8};
use std::borrow::Cow;

/// Decodes a document to UTF-8 text, honouring a byte-order mark or an XML `encoding=` declaration.
/// UTF-8 (nearly every document) is only validated and comes back borrowed from `bytes`: only a
/// document too large to keep its records (read twice) needs its own copy of the text.
pub fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, DocumentError> {
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        return strict(enc, &bytes[bom_len..]);
    }
    let label = declared_encoding(bytes);
    let enc = match label.as_deref() {
        None => UTF_8,
        Some(label) => {
            Encoding::for_label(label.as_bytes()).ok_or_else(|| DocumentError::Encoding {
                encoding: label.to_owned(),
                detail: "未知的字符编码 (unknown encoding label)".into(),
            })?
        }
    };
    strict(enc, bytes)
}

fn strict<'a>(enc: &'static Encoding, bytes: &'a [u8]) -> Result<Cow<'a, str>, DocumentError> {
    if enc == UTF_8 {
        // simdutf8 accepts exactly what `std::str::from_utf8` accepts, several times faster on
        // text that is mostly Chinese (three-byte sequences); the error path finds the offset.
        if let Ok(text) = simdutf8::basic::from_utf8(bytes) {
            return Ok(Cow::Borrowed(text));
        }
    }
    let (text, had_errors) = enc.decode_without_bom_handling(bytes);
    if had_errors {
        let at = first_bad_offset(enc, bytes);
        return Err(DocumentError::Encoding {
            encoding: enc.name().to_owned(),
            detail: format!("第 {at} 字节处的字节序列无效 (invalid byte sequence at byte {at})"),
        });
    }
    Ok(text)
}

fn first_bad_offset(enc: &'static Encoding, bytes: &[u8]) -> usize {
    if enc == UTF_8 {
        return std::str::from_utf8(bytes)
            .err()
            .map_or(0, |e| e.valid_up_to());
    }
    let mut decoder = enc.new_decoder_without_bom_handling();
    let mut out = String::with_capacity(bytes.len() * 3);
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut out, true);
    match result {
        encoding_rs::DecoderResult::Malformed(len, _) => read.saturating_sub(usize::from(len)),
        _ => read,
    }
}

/// The `encoding="…"` of an XML declaration at the very start, read from ASCII bytes.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(200)];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    let rest = &decl[decl.find("encoding")? + "encoding".len()..];
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    Some(value[..value.find(quote)?].trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_declared_documents_are_transcoded() {
        let (bytes, _, _) = encoding_rs::GBK
            .encode("<?xml version=\"1.0\" encoding=\"GBK\"?><A><B>招标公告</B></A>");
        let text = decode(&bytes).expect("decodes");
        assert!(text.contains("招标公告"));
    }

    #[test]
    fn gb18030_and_gb2312_labels_are_known() {
        for label in ["GB18030", "gb2312", "GBK"] {
            let doc = format!("<?xml version='1.0' encoding='{label}'?><A/>");
            assert!(decode(doc.as_bytes()).is_ok(), "{label}");
        }
    }

    #[test]
    fn bad_utf8_is_reported_with_its_offset() {
        let err = decode(b"<A>\xff</A>").expect_err("invalid utf-8");
        assert!(
            matches!(err, DocumentError::Encoding { ref detail, .. } if detail.contains('3')),
            "{err}"
        );
    }

    #[test]
    fn unknown_labels_are_refused() {
        assert!(decode(b"<?xml version=\"1.0\" encoding=\"KLINGON\"?><A/>").is_err());
    }
}
