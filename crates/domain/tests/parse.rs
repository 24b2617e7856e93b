//! Reading documents: batches, nested candidates, JSON, GBK, malformed input with line and
//! column, the size limit, unknown fields, and the canonical values they become.

use gongshi_domain::parse::{RawRecord, RawValue};
use gongshi_domain::rules::Catalogue;
use gongshi_domain::{CheckedRecord, Document, DocumentError, Limits, Schemas, check_record};
use std::path::Path;

fn sample(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/notices")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn check_all(bytes: &[u8]) -> Vec<CheckedRecord> {
    let doc = Document::parse(bytes, Limits::default()).expect("document parses");
    doc.records()
        .iter()
        .map(|raw| check_record(Schemas::embedded(), Catalogue::embedded(), raw))
        .collect()
}

fn field<'a>(record: &'a CheckedRecord, name: &str) -> &'a serde_json::Value {
    record
        .canonical()
        .and_then(|c| c.get(name))
        .unwrap_or(&serde_json::Value::Null)
}

#[test]
fn a_batch_of_three_stages_reads_in_document_order_with_nested_candidates() {
    let records = check_all(&sample("works-procedure.xml"));
    let tables: Vec<&str> = records.iter().map(|r| r.table.as_str()).collect();
    assert_eq!(
        tables,
        [
            "TENDER_ANN_QUA_INQUERY_ANN",
            "TENDER_CANDIDATE_ANNOUNCE",
            "WIN_RESULT_ANNO"
        ]
    );
    for r in &records {
        assert!(r.is_valid(), "{}: {:#?}", r.table, r.findings);
    }
    let tender = &records[0];
    assert_eq!(
        field(tender, "BID_SECTION_CODES"),
        &serde_json::json!(["E3203010319005778001", "E3203010319005778002"])
    );
    assert_eq!(field(tender, "CONTRACT_RECKON_PRICE"), "11531700");
    assert_eq!(field(tender, "PRICE_UNIT"), "元");
    assert_eq!(
        field(tender, "DOC_GET_START_TIME"),
        "2025-03-03T09:00:00+08:00"
    );
    // A date-only end of a period is 24:00 of that day.
    assert_eq!(
        field(tender, "DOC_GET_END_TIME"),
        "2025-03-11T00:00:00+08:00"
    );
    // Full-width USCC folded to half-width before checking.
    assert_eq!(field(tender, "TENDERER_CODE"), "91320300MA1MXK7Q09");
    assert_eq!(tender.notice.as_ref().expect("notice").procedures.len(), 2);

    let candidates = &records[1];
    let list = field(candidates, "TENDER_CANDIDATE")
        .as_array()
        .expect("candidates");
    assert_eq!(list.len(), 2);
    assert_eq!(
        list[0]["BID_PRICE"], "10876543.21",
        "1087.654321 万元 in 元, exact"
    );
    assert_eq!(list[1]["BID_PRICE"], "10912000");
}

/// Operators find a refused record by its line: each record and sub-record reports the line of
/// its start tag, including a record read after one with sub-records (counted as they close).
#[test]
fn records_and_sub_records_carry_the_line_of_their_start_tag() {
    let doc = Document::parse(&sample("works-procedure.xml"), Limits::default()).expect("parses");
    let records = doc.records();
    let lines: Vec<usize> = records.iter().map(|r| r.line).collect();
    assert_eq!(lines, [5, 30, 56]);
    let candidates: Vec<usize> = records[1].children.iter().map(|c| c.line).collect();
    assert_eq!(candidates, [41, 48]);
    let checked = check_all(&sample("works-procedure.xml"));
    assert_eq!(
        checked.iter().map(|r| r.line).collect::<Vec<_>>(),
        [5, 30, 56]
    );
    // A record with no field element has its line counted at its end; nested ones at their
    // first field, in whatever order they close.
    let doc = "<BATCH>\n<A>\n<R>\n<X>1</X>\n</R>\n</A>\n<B/>\n<C>\n</C>\n<D><Y>2</Y></D>\n</BATCH>";
    let parsed = Document::parse(doc.as_bytes(), Limits::default()).expect("parses");
    let records = parsed.records();
    assert_eq!(
        records.iter().map(|r| r.line).collect::<Vec<_>>(),
        [2, 7, 8, 10]
    );
    assert_eq!(records[0].children[0].line, 3);
}

#[test]
fn unknown_fields_are_kept_and_warned_and_personal_fields_are_marked() {
    let records = check_all(&sample("works-procedure.xml"));
    let award = &records[2];
    assert_eq!(field(award, "extra")["M_PLATFORM_SEQ"], "884213");
    let warning = award
        .warnings()
        .find(|f| f.rule == "FIELD-UNKNOWN")
        .expect("unknown field warned");
    assert_eq!(warning.path, "/extra/M_PLATFORM_SEQ");
    let notice = award.notice.as_ref().expect("valid");
    assert!(notice.canonical.contains_key("PROJECT_LEAD_ID"));
    let public = notice.public_record(Schemas::embedded());
    assert!(!public.contains_key("PROJECT_LEAD_ID") && !public.contains_key("PROJECT_LEAD"));
    assert!(
        !serde_json::to_string(&public)
            .expect("json")
            .contains("320303198001011234")
    );
}

#[test]
fn gbk_documents_are_transcoded() {
    let bytes = sample("procurement-tender-gbk.xml");
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the sample really is GBK"
    );
    let records = check_all(&bytes);
    assert_eq!(records.len(), 1);
    assert!(records[0].is_valid(), "{:#?}", records[0].findings);
    assert_eq!(
        field(&records[0], "BULLETIN_TITLE"),
        "山东省立医院医用耗材集中采购项目公开招标公告"
    );
    assert_eq!(
        field(&records[0], "PURCHASER_MODE"),
        "公开招标",
        "code 1 read through the code table"
    );
    assert_eq!(field(&records[0], "PROGRAM_BUDGET"), "3865000");
}

#[test]
fn json_documents_read_like_xml() {
    let records = check_all(&sample("procurement-result.json"));
    assert_eq!(records.len(), 1);
    assert!(records[0].is_valid(), "{:#?}", records[0].findings);
    assert_eq!(field(&records[0], "WIN_BID_PRICE"), "3712400");
    let arr = br#"[{"TABLE":"TENDER_TERMINATION","REASON":"x"},{"TABLE":"NOPE"}]"#;
    let records = check_all(arr);
    assert_eq!(records.len(), 2);
    assert!(records[1].errors().any(|f| f.rule == "TABLE-UNSUPPORTED"));
}

#[test]
fn the_same_notice_hashes_alike_whatever_the_field_order_or_timestamp() {
    let a = r#"{"TABLE":"WIN_RESULT_ANNO","TENDER_PROJECT_CODE":"E1","BID_SECTION_CODE":"E1001","NOTICE_NAME":"n","NOTICE_CONTENT":"c","NOTICE_SEND_TIME":"2025-01-02","WIN_BIDDER_NAME":"w","WIN_BIDDER_CODE":"9113082810924237XA","BID_AMOUNT":"10","PRICE_UNIT":"万元","PLATFORM_CODE":"P","DATA_TIMESTAMP":"2025-01-02 08:00"}"#;
    let b = r#"{"DATA_TIMESTAMP":"2025-01-05 08:00","PRICE_UNIT":"1","BID_AMOUNT":"100000.00","TABLE":"WIN_RESULT_ANNO","TENDER_PROJECT_CODE":"E1","BID_SECTION_CODE":"E1001","NOTICE_NAME":"n","NOTICE_CONTENT":"c","NOTICE_SEND_TIME":"2025-01-02 00:00:00","WIN_BIDDER_NAME":"w","WIN_BIDDER_CODE":"9113082810924237XA","PLATFORM_CODE":"P"}"#;
    let na = check_all(a.as_bytes()).remove(0).notice.expect("valid a");
    let nb = check_all(b.as_bytes()).remove(0).notice.expect("valid b");
    assert_eq!(na.content_hash, nb.content_hash);
    assert_eq!(na.id, nb.id);
    let c = a.replace("\"c\"", "\"changed\"");
    assert_ne!(
        check_all(c.as_bytes())
            .remove(0)
            .notice
            .expect("valid c")
            .id,
        na.id
    );
}

#[test]
fn malformed_xml_reports_line_and_column() {
    let doc = "<BATCH>\n  <WIN_RESULT_ANNO>\n    <NOTICE_NAME>x</NOTICE_NAM>\n  </WIN_RESULT_ANNO>\n</BATCH>";
    match Document::parse(doc.as_bytes(), Limits::default()) {
        Err(DocumentError::Xml {
            line,
            column,
            message,
        }) => {
            assert_eq!(line, 3, "{message}");
            assert!(column > 1, "{column}");
        }
        other => panic!("expected an XML error, got {other:?}"),
    }
    for (bad, why) in [
        ("<A><B>x</B>", "unclosed"),
        ("<A>x<B>y</B></A>", "mixed content"),
        ("<A/><B/>", "two roots"),
        ("<A><B>&nope;</B></A>", "undefined entity"),
        ("text", "not xml"),
        ("", "empty"),
        ("<BATCH></BATCH>", "no records"),
    ] {
        assert!(
            Document::parse(bad.as_bytes(), Limits::default()).is_err(),
            "{why}"
        );
    }
}

#[test]
fn malformed_json_reports_line_and_column() {
    match Document::parse(b"{\n \"TABLE\": \"X\",\n \"A\": }", Limits::default()) {
        Err(DocumentError::Json { line, column, .. }) => assert_eq!((line, column), (3, 7)),
        other => panic!("expected a JSON error, got {other:?}"),
    }
    assert!(
        Document::parse(br#"[{"A":1}]"#, Limits::default()).is_err(),
        "no TABLE"
    );
    assert!(
        Document::parse(br#"[1,2]"#, Limits::default()).is_err(),
        "not objects"
    );
}

/// A JSON `TABLE` that no XML element could be named (a NUL, a space) is refused with the
/// document, naming the item: a NUL would otherwise reach PostgreSQL, which cannot store it, and
/// the platform would be told to retry a document that can never be stored.
#[test]
fn a_json_table_code_that_is_no_element_name_refuses_the_document() {
    for table in ["A\\u0000B", "TENDER ANN", "<X>"] {
        let doc = format!(r#"[{{"TABLE":"WIN_RESULT_ANNO"}},{{"TABLE":"{table}","A":"1"}}]"#);
        let message = refusal(doc.as_bytes()).to_string();
        assert!(
            message.contains("第 1 项") && message.contains("is not a table code"),
            "{table}: {message}"
        );
    }
    // Surrounding white space is not part of the code.
    assert!(Document::parse(br#"{"TABLE":" WIN_RESULT_ANNO "}"#, Limits::default()).is_ok());
}

#[test]
fn the_size_limit_is_checked_before_parsing() {
    let limits = Limits {
        max_document_bytes: 64,
        ..Limits::default()
    };
    let big = format!("<A>{}</A>", "x".repeat(100));
    assert_eq!(
        Document::parse(big.as_bytes(), limits).expect_err("too large"),
        DocumentError::TooLarge {
            size: big.len(),
            limit: 64
        }
    );
}

#[test]
fn entities_cdata_and_empty_elements() {
    let doc = "<TENDER_TERMINATION><REASON>a &amp; b &#x4E2D;<![CDATA[<c>]]></REASON><URL/><NOTICE_NAME></NOTICE_NAME></TENDER_TERMINATION>";
    let parsed = Document::parse(doc.as_bytes(), Limits::default()).expect("parses");
    let raw = parsed.records().remove(0);
    assert_eq!(raw.fields[0].value, RawValue::Text("a & b 中<c>".into()));
    let checked = check_record(Schemas::embedded(), Catalogue::embedded(), &raw);
    // Empty elements mean absent: they are reported as missing, not as empty strings.
    assert!(
        checked
            .errors()
            .any(|f| f.path == "/NOTICE_NAME" && f.rule == "SCHEMA-REQUIRED")
    );
    assert!(field(&checked, "URL").is_null());
}

#[test]
fn field_level_errors_name_field_label_and_rule() {
    let doc = r#"<WIN_RESULT_ANNO><TENDER_PROJECT_CODE>E1</TENDER_PROJECT_CODE><BID_SECTION_CODE>E1001</BID_SECTION_CODE>
      <NOTICE_NAME>n</NOTICE_NAME><NOTICE_CONTENT>c</NOTICE_CONTENT><NOTICE_SEND_TIME>2025/01/02</NOTICE_SEND_TIME>
      <WIN_BIDDER_NAME>w</WIN_BIDDER_NAME><WIN_BIDDER_CODE>9113082810924237XB</WIN_BIDDER_CODE>
      <BID_AMOUNT>-5</BID_AMOUNT><PLATFORM_CODE>P</PLATFORM_CODE><DATA_TIMESTAMP>2025-01-02</DATA_TIMESTAMP>
      <REGION_CODE>999999</REGION_CODE></WIN_RESULT_ANNO>"#;
    let r = check_all(doc.as_bytes()).remove(0);
    let rules: Vec<(&str, &str)> = r
        .errors()
        .map(|f| (f.rule.as_str(), f.path.as_str()))
        .collect();
    assert!(
        rules.contains(&("FIELD-DATETIME", "/NOTICE_SEND_TIME")),
        "{rules:?}"
    );
    assert!(
        rules.contains(&("AMOUNT-NEGATIVE", "/BID_AMOUNT")),
        "{rules:?}"
    );
    let dt = r
        .errors()
        .find(|f| f.rule == "FIELD-DATETIME")
        .expect("datetime error");
    assert!(
        dt.message.contains("NOTICE_SEND_TIME 公告发布时间"),
        "{}",
        dt.message
    );
    assert!(dt.message.contains("依据"), "{}", dt.message);

    // With the field errors fixed, identifier checks speak.
    let fixed = doc
        .replace("2025/01/02", "2025-01-02")
        .replace("-5", "5")
        .replace(
            "<PLATFORM_CODE>",
            "<PRICE_UNIT>元</PRICE_UNIT><PLATFORM_CODE>",
        );
    let r = check_all(fixed.as_bytes()).remove(0);
    let rules: Vec<(&str, &str)> = r
        .errors()
        .map(|f| (f.rule.as_str(), f.path.as_str()))
        .collect();
    assert!(
        rules.contains(&("USCC-CHECK", "/WIN_BIDDER_CODE")),
        "{rules:?}"
    );
    assert!(
        rules.contains(&("REGION-UNKNOWN", "/REGION_CODE")),
        "{rules:?}"
    );
    let uscc = r.errors().find(|f| f.rule == "USCC-CHECK").expect("uscc");
    assert!(uscc.message.contains("应为 A"), "{}", uscc.message);
}

#[test]
fn an_amount_without_unit_is_an_error_at_the_amount() {
    let doc = r#"{"TABLE":"BID_DEAL_ANNOUNCE","PURCHASE_PROJECT_CODE":"P1","PURCHASE_SECTION_CODE":"P1-1","WIN_BID_BULLETIN_TITLE":"t","WIN_BID_BULLETIN_CONTENT":"c","WIN_BID_BULLETIN_START_TIME":"2025-01-02 09:00","WINNINGBIDDER_NAME":"w","WINNINGBIDDER_CODE":"9113082810924237XA","WIN_BID_PRICE":"12.5","PLATFORM_CODE":"P","DATA_TIMESTAMP":"2025-01-02"}"#;
    let r = check_all(doc.as_bytes()).remove(0);
    let f = r
        .errors()
        .find(|f| f.rule == "AMOUNT-UNIT-MISSING")
        .expect("unit missing");
    assert_eq!(f.path, "/WIN_BID_PRICE");
    assert!(f.message.contains("PRICE_UNIT"), "{}", f.message);
}

#[test]
fn an_amount_too_large_to_convert_to_yuan_is_an_error_not_a_smaller_amount() {
    let doc = |amount: &str| {
        format!(
            r#"{{"TABLE":"BID_DEAL_ANNOUNCE","PURCHASE_PROJECT_CODE":"P1","PURCHASE_SECTION_CODE":"P1-1","WIN_BID_BULLETIN_TITLE":"t","WIN_BID_BULLETIN_CONTENT":"c","WIN_BID_BULLETIN_START_TIME":"2025-01-02 09:00","WINNINGBIDDER_NAME":"w","WINNINGBIDDER_CODE":"9113082810924237XA","WIN_BID_PRICE":"{amount}","PRICE_UNIT":"万元","PLATFORM_CODE":"P","DATA_TIMESTAMP":"2025-01-02"}}"#
        )
    };
    let r = check_all(doc("99999999999999999999999999.99").as_bytes()).remove(0);
    let f = r
        .errors()
        .find(|f| f.rule == "FIELD-AMOUNT")
        .expect("refused, not read as 元");
    assert_eq!(f.path, "/WIN_BID_PRICE");
    assert!(f.message.contains("WIN_BID_PRICE"), "{}", f.message);
    let r = check_all(doc("1087.654321").as_bytes()).remove(0);
    assert_eq!(field(&r, "WIN_BID_PRICE"), "10876543.21");
}

#[test]
fn bidirectional_controls_are_removed_from_xml_and_json_with_a_warning() {
    let xml = "<TENDER_TERMINATION><TENDER_PROJECT_CODE>E1</TENDER_PROJECT_CODE><BID_SECTION_CODES>E1001</BID_SECTION_CODES>\
        <NOTICE_NAME>流标公告\u{202E}3202-40-10\u{202C}</NOTICE_NAME><NOTICE_CONTENT>c</NOTICE_CONTENT>\
        <NOTICE_SEND_TIME>2025-04-02 15:00</NOTICE_SEND_TIME><REASON>r</REASON><PLATFORM_CODE>P</PLATFORM_CODE>\
        <DATA_TIMESTAMP>2025-04-02 15:01</DATA_TIMESTAMP></TENDER_TERMINATION>";
    let json = r#"{"TABLE":"TENDER_TERMINATION","TENDER_PROJECT_CODE":"E1","BID_SECTION_CODES":["E1001"],"NOTICE_NAME":"流标公告\u202e3202-40-10\u202c","NOTICE_CONTENT":"c","NOTICE_SEND_TIME":"2025-04-02T15:00:00+08:00","REASON":"r","PLATFORM_CODE":"P","DATA_TIMESTAMP":"2025-04-02T15:01:19+08:00"}"#;
    for doc in [xml, json] {
        let r = check_all(doc.as_bytes()).remove(0);
        assert_eq!(field(&r, "NOTICE_NAME"), "流标公告3202-40-10", "{doc}");
        let warning = r
            .findings
            .iter()
            .find(|f| f.rule == "TEXT-CHARS")
            .unwrap_or_else(|| panic!("a TEXT-CHARS warning: {:#?}", r.findings));
        assert_eq!(warning.path, "/NOTICE_NAME");
        assert!(warning.message.contains("U+202E ×1"), "{}", warning.message);
        assert!(r.is_valid(), "a warning, not an error");
    }
}

#[test]
fn a_section_listed_twice_is_one_procedure() {
    let doc = r#"{"TABLE":"TENDER_TERMINATION","TENDER_PROJECT_CODE":"E1","BID_SECTION_CODES":["E1001","E1002","E1001"],"NOTICE_NAME":"t","NOTICE_CONTENT":"c","NOTICE_SEND_TIME":"2025-04-02T15:00:00+08:00","REASON":"r","PLATFORM_CODE":"P","DATA_TIMESTAMP":"2025-04-02T15:01:19+08:00"}"#;
    let r = check_all(doc.as_bytes()).remove(0);
    let sections: Vec<String> = r
        .notice
        .as_ref()
        .expect("a notice")
        .procedures
        .iter()
        .map(|p| p.section.clone())
        .collect();
    assert_eq!(sections, ["E1001", "E1002"]);
}

#[test]
fn codes_that_cannot_name_a_procedure_are_refused_where_they_stand() {
    let termination = |project: &str, sections: &str, platform: &str| {
        format!(
            r#"{{"TABLE":"TENDER_TERMINATION","TENDER_PROJECT_CODE":"{project}","BID_SECTION_CODES":{sections},"NOTICE_NAME":"t","NOTICE_CONTENT":"c","NOTICE_SEND_TIME":"2025-04-02T15:00:00+08:00","REASON":"r","PLATFORM_CODE":"{platform}","DATA_TIMESTAMP":"2025-04-02T15:01:19+08:00"}}"#
        )
    };
    let problems = |doc: String| -> Vec<(String, String)> {
        check_all(doc.as_bytes())
            .remove(0)
            .errors()
            .filter(|f| f.rule == "CODE-ADDRESS")
            .map(|f| (f.path.clone(), f.message.clone()))
            .collect()
    };
    // A project code with the key's separator would name project "E1", section "X/E1001".
    let found = problems(termination("E1/X", r#"["E1001"]"#, "P"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "/TENDER_PROJECT_CODE");
    assert!(found[0].1.contains("'E1/X'"), "{found:?}");
    // A dot segment, in a list of sections and as the platform.
    let found = problems(termination("E1", r#"["E1001",".."]"#, "."));
    let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        ["/PLATFORM_CODE", "/BID_SECTION_CODES/1"],
        "{found:?}"
    );
    // Dots inside a code are fine.
    assert!(problems(termination("E1.2", r#"["E1.2.001"]"#, "P")).is_empty());
}

/// The message of a document's refusal (panics if it was read).
fn refusal(doc: &[u8]) -> DocumentError {
    Document::parse(doc, Limits::default()).expect_err("refused")
}

#[test]
fn entities_declared_in_a_dtd_are_never_expanded() {
    // Billion laughs: ten levels of ten references, 10^9 "lol"s if expanded.
    let mut laughs = String::from("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">");
    for level in 1..=9 {
        let previous = if level == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", level - 1)
        };
        laughs.push_str(&format!(
            "<!ENTITY lol{level} \"{}\">",
            format!("&{previous};").repeat(10)
        ));
    }
    laughs.push_str("]><TENDER_TERMINATION><REASON>&lol9;</REASON></TENDER_TERMINATION>");
    let external = "<!DOCTYPE r [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\
                    <TENDER_TERMINATION><REASON>&xxe;</REASON></TENDER_TERMINATION>";
    for (doc, entity) in [(laughs.as_str(), "&lol9;"), (external, "&xxe;")] {
        match refusal(doc.as_bytes()) {
            DocumentError::Xml { message, .. } => {
                assert!(message.contains(entity), "{message}");
                assert!(message.contains("never expanded"), "{message}");
            }
            other => panic!("expected an XML error, got {other:?}"),
        }
    }
}

#[test]
fn nesting_200k_deep_is_refused_at_the_depth_limit() {
    let depth = 200_000;
    let xml = format!("{}{}", "<A>".repeat(depth), "</A>".repeat(depth));
    match refusal(xml.as_bytes()) {
        DocumentError::Xml {
            message, column, ..
        } => {
            assert!(message.contains("nesting too deep"), "{message}");
            // Refused where the limit is passed, not after reading all of it.
            assert_eq!(column, 3 * Limits::default().max_depth + 1);
        }
        other => panic!("expected an XML error, got {other:?}"),
    }
    for json in [
        format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
        format!("{}1{}", "{\"A\":".repeat(depth), "}".repeat(depth)),
    ] {
        match refusal(json.as_bytes()) {
            DocumentError::Json { message, .. } => {
                assert!(message.contains("recursion limit"), "{message}")
            }
            other => panic!("expected a JSON error, got {other:?}"),
        }
    }
}

/// Found by fuzzing (`xml_reader`, the write-back round trip): element names were taken as sent,
/// so `<A\0"x>` was read as a record of table `A\0"x`: a NUL that PostgreSQL text cannot hold, a
/// quote that no XML written from the record could carry.
#[test]
fn element_names_outside_the_xml_name_production_are_refused() {
    for bad in [
        "<PURCHA\0SE></PURCHA\0SE>",
        "<A><B\u{7f}>x</B\u{7f}></A>",
        "<A><B\"c\">x</B\"c\"></A>",
        "<A><1B>x</1B></A>",
        "<A><-B/></A>",
    ] {
        match refusal(bad.as_bytes()) {
            DocumentError::Xml { message, .. } => {
                assert!(message.contains("element name"), "{bad:?}: {message}")
            }
            other => panic!("{bad:?}: expected an XML error, got {other:?}"),
        }
    }
    // Names the data standard uses, and any XML name, still read.
    let doc = "<TENDER_TERMINATION><REASON>x</REASON><x-y.z>1</x-y.z><名称>2</名称><ns:B>3</ns:B></TENDER_TERMINATION>";
    let records = Document::parse(doc.as_bytes(), Limits::default())
        .expect("XML names")
        .records();
    assert_eq!(records[0].fields.len(), 4);
}

#[test]
fn a_document_too_large_to_keep_is_read_record_by_record_with_the_same_result() {
    use gongshi_domain::parse::KEEP_RECORDS_UP_TO;
    let small = sample("works-procedure.xml");
    let small_doc = Document::parse(&small, Limits::default()).expect("sample parses");
    let records = small_doc.records();
    // The sample's records, repeated in one <BATCH> past the size up to which records are kept.
    let text = String::from_utf8(small).expect("the sample is UTF-8");
    let inner_start = text.find("<BATCH>").expect("sample is a batch") + "<BATCH>".len();
    let inner_end = text.rfind("</BATCH>").expect("sample is a batch");
    let inner = &text[inner_start..inner_end];
    let copies = KEEP_RECORDS_UP_TO / inner.len() + 2;
    let large = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<BATCH>{}</BATCH>\n",
        inner.repeat(copies)
    );
    assert!(large.len() > KEEP_RECORDS_UP_TO);
    let limits = Limits {
        max_document_bytes: large.len(),
        ..Limits::default()
    };
    let doc = Document::parse(large.as_bytes(), limits).expect("large batch parses");
    assert_eq!(doc.record_count(), records.len() * copies);
    // Lines differ from copy to copy; tables, fields and sub-records do not.
    fn content(r: &RawRecord) -> RawRecord {
        RawRecord {
            line: 0,
            children: r.children.iter().map(content).collect(),
            ..r.clone()
        }
    }
    let mut seen = 0;
    doc.for_each_record(|r| {
        assert_eq!(content(r), content(&records[seen % records.len()]));
        seen += 1;
    });
    assert_eq!(seen, records.len() * copies);
    assert_eq!(doc.tables().len(), seen);
    assert_eq!(doc.into_records().len(), seen);

    // Well-formedness is proven before any record is handed out: a defect at the very end of a
    // large document refuses it whole.
    let broken = large.replacen("</BATCH>", "</BATCH><X/>", 1);
    let limits = Limits {
        max_document_bytes: broken.len(),
        ..Limits::default()
    };
    assert!(matches!(
        Document::parse(broken.as_bytes(), limits),
        Err(DocumentError::Xml { .. })
    ));
}

#[test]
fn text_beside_child_elements_is_refused_wherever_it_stands() {
    for doc in [
        "<A><B>y</B>x</A>",
        "<A>x<B>y</B></A>",
        "<BATCH><A><F>1</F></A>stray</BATCH>",
        "<A><R><F>1</F> z </R></A>",
    ] {
        match refusal(doc.as_bytes()) {
            DocumentError::Xml { message, .. } => {
                assert!(
                    message.contains("mixed text and elements"),
                    "{doc}: {message}"
                );
            }
            other => panic!("{doc}: {other:?}"),
        }
    }
    // White space between elements, and around a record, is layout.
    let doc = "<BATCH>\n  <A>\n    <F>1</F>\n  </A>\n</BATCH>\n";
    let parsed = Document::parse(doc.as_bytes(), Limits::default()).expect("parses");
    assert_eq!(parsed.records()[0].text("F"), Some("1"));
}
