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
    assert!(paths.len() >= 9, "{:?}", paths.keys());
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
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert!(
                status != 405 && !(status == 404 && body["error"]["code"] == "not-found"),
                "{method} {path} is documented but not routed ({status} {body})"
            );
        }
    }
}
