//! `GET /openapi.json` describes the routes the gateway really serves: every documented operation
//! is routed (it never falls through to the router's `not-found`), and the document is OpenAPI 3.1.

use gongshi_tests::Pipeline;
use serde_json::Value;

#[tokio::test]
async fn every_documented_operation_is_served() {
    let p = Pipeline::start("2025-04-10T12:00:00+08:00").await;
    let (status, doc) = p.get("/openapi.json").await;
    assert_eq!(status, 200);
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 15, "{:?}", paths.keys());
    let client = reqwest::Client::new();
    for (path, item) in paths {
        // Path parameters get a value no notice has: the route must answer, not the fallback.
        let concrete: String = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().expect("path item").keys() {
            let request = match method.as_str() {
                "get" => client.get(format!("{}{concrete}", p.url)),
                "post" => client.post(format!("{}{concrete}", p.url)),
                "delete" => client.delete(format!("{}{concrete}", p.url)),
                _ => continue,
            };
            let response = request.send().await.expect("request");
            let status = response.status().as_u16();
            let streaming = response
                .headers()
                .get("content-type")
                .is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream"));
            // An event stream never ends: its answering is what counts.
            let body: Value = if streaming {
                Value::Null
            } else {
                response.json().await.unwrap_or(Value::Null)
            };
            assert!(
                status != 405 && !(status == 404 && body["error"]["code"] == "not-found"),
                "{method} {path} is documented but not routed ({status} {body})"
            );
        }
    }
}

/// schemathesis (the Python property-based API tester) generates requests from `/openapi.json`
/// and checks that no answer is a server error and that every status, content type, header and
/// body matches the description. It runs with the ingest token, so the ingest route sees
/// generated documents; the subscription routes then answer 403 (no subscription is created, so
/// no webhook goes anywhere), and `/v1/stream`, which never ends, is left to tests/stream.rs.
#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_off_the_description() {
    let p = Pipeline::start("2025-04-10T12:00:00+08:00").await;
    let receipt = p
        .submit(&gongshi_tests::sample("works-procedure.xml"))
        .await;
    // Its stages are published or held by the time every record has left `received`.
    p.wait_receipt(&receipt, |s| s != "received").await;
    let schemathesis = gongshi_tests::python()
        .parent()
        .expect("venv bin folder")
        .join("schemathesis");
    let out = std::process::Command::new(&schemathesis)
        .current_dir(&p.dir)
        .args([
            "run",
            &format!("{}/openapi.json", p.url),
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance,response_headers_conformance",
            "--max-examples",
            "25",
            "--seed",
            "20261123",
            "--request-timeout",
            "10",
            "--exclude-path",
            "/v1/stream",
            "-H",
            &format!("Authorization: Bearer {}", gongshi_tests::TOKEN),
        ])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", schemathesis.display()));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("passed"), "{report}");
}
