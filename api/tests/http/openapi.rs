//! The OpenAPI document: served, complete, valid, and Swagger UI works offline.
use reqwest::{Method, StatusCode};

use crate::common::Harness;

fn concrete(path: &str) -> String {
    // Fill every `{param}` with something of the right shape.
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        let name = &rest[start + 1..end];
        out.push_str(match name {
            "role" => "seller",
            n if n == "id" && (path.contains("/customers/") || path.contains("/staff/")) => "42",
            _ => "00000000-0000-4000-8000-000000000000",
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn every_documented_route_exists_and_the_document_validates() {
    let h = Harness::start().await;
    let served = h.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.body, serde_json::to_value(api::openapi()).unwrap());
    let paths = served.body["paths"].as_object().unwrap();
    assert!(paths.len() >= 50, "{} paths", paths.len());

    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let m: Method = method.to_uppercase().parse().unwrap();
            let a = h.call(m.clone(), &concrete(path), None, None).await;
            assert_ne!(
                a.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is documented but not routed"
            );
            assert_ne!(a.code(), "no_such_route", "{method} {path} is documented but not routed");
            // Routes that need a token say so in the document, and refuse without one.
            let secured = op.get("security").is_some();
            if secured && path != "/api/auth/logout" {
                assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{method} {path} without a token: {:?}", a.body);
            }
            assert!(
                op["responses"].as_object().unwrap().keys().any(|s| s.starts_with('2')),
                "{method} {path} documents no success"
            );
            operations += 1;
        }
    }
    assert!(operations >= 55, "{operations} operations");

    // Validate against the OpenAPI 3.1 schema with the reference validator (PyPI
    // openapi-spec-validator; scripts/test.sh installs it).
    let file = std::env::temp_dir().join(format!("mrjbot-openapi-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&file, serde_json::to_vec_pretty(&served.body).unwrap()).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("python3 runs");
    let _ = std::fs::remove_file(&file);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        !text.contains("No module named"),
        "openapi-spec-validator is missing: `pip install openapi-spec-validator` (scripts/test.sh does)"
    );
    assert!(out.status.success() && text.contains("OK"), "the document is invalid:\n{text}");
    h.finish().await;
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let h = Harness::start().await;
    let page = h.http.get(format!("{}/docs/", h.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    // Its assets come from the binary (vendored), not a CDN.
    assert!(!html.contains("unpkg.com") && !html.contains("cdn.jsdelivr"), "{html}");
    for asset in ["swagger-ui.css", "swagger-ui-bundle.js", "swagger-initializer.js"] {
        let a = h.http.get(format!("{}/docs/{asset}", h.base)).send().await.unwrap();
        assert_eq!(a.status(), StatusCode::OK, "{asset}");
        let body = a.text().await.unwrap();
        assert!(body.len() > 50, "{asset}");
        if asset == "swagger-initializer.js" {
            assert!(body.contains("/api/openapi.json"), "{body}");
        }
    }
    h.finish().await;
}

#[tokio::test]
async fn the_dashboard_is_served_with_deep_links_and_api_misses_stay_json() {
    let dir = std::env::temp_dir().join(format!("mrjbot-dash-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><div id=root>dashboard</div>").unwrap();
    std::fs::write(dir.join("assets/app.js"), "console.log('x')").unwrap();
    let h = Harness::start_with(api::ApiConfig {
        dashboard_dir: Some(dir.clone()),
        ..api::ApiConfig::default()
    })
    .await;
    for path in ["/", "/admin/payments", "/customer/wallet"] {
        let page = h.http.get(format!("{}{path}", h.base)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        assert!(page.text().await.unwrap().contains("dashboard"), "{path}");
    }
    let js = h.http.get(format!("{}/assets/app.js", h.base)).send().await.unwrap();
    assert!(js.headers()["content-type"].to_str().unwrap().contains("javascript"));
    assert_eq!(js.headers()["x-content-type-options"], "nosniff");
    let miss = h.call(Method::GET, "/api/does/not/exist", None, None).await;
    assert_eq!((miss.status, miss.code()), (StatusCode::NOT_FOUND, "no_such_route"));
    h.finish().await;
    std::fs::remove_dir_all(dir).unwrap();
}
