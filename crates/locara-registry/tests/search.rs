//! `GET /api/v1/search` over real HTTP, without signing in, against apps released by the real builder
//! (seeded with `serve --demo` from small C examples): matches on names and descriptions, ranked exact
//! name, name, description, then by name; the text and the limit are checked.

mod common;

use std::ffi::OsStr;

use common::api::Api;
use common::examples::{wait_available, write_example};
use serde_json::Value;

fn names(results: &Value) -> Vec<&str> {
    results
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {results}"))
        .iter()
        .map(|result| result["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn search_ranks_exact_names_then_names_then_descriptions() {
    let data = tempfile::tempdir().unwrap();
    let examples = tempfile::tempdir().unwrap();
    write_example(examples.path(), "notes", "0.1.0", "Keeps notes");
    write_example(examples.path(), "notes-plus", "0.1.0", "Keeps more of them");
    write_example(
        examples.path(),
        "hello-c",
        "0.1.0",
        "Prints a greeting and takes no NOTES",
    );
    let arguments = [
        OsStr::new("--demo"),
        OsStr::new("--demo-apps"),
        examples.path().as_os_str(),
    ];
    let server = common::start_serving(data.path(), &[], std::process::Stdio::null(), &arguments);
    let api = Api::new(&server.url);
    for app in ["demo/notes", "demo/notes-plus", "demo/hello-c"] {
        wait_available(&api, app, "0.1.0").await;
    }

    let search = |query: &str| {
        let api = api.clone();
        let path = format!("/api/v1/search?{query}");
        async move { api.get(&path).await }
    };
    let reply = search("q=notes").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        names(&reply.body),
        ["demo/notes", "demo/notes-plus", "demo/hello-c"]
    );
    let first = &reply.body[0];
    assert_eq!(first["publisher"], "demo");
    assert_eq!(first["verification"]["method"], "demo");
    assert_eq!(first["description"], "Keeps notes");
    assert_eq!(first["latest_version"], "0.1.0");
    assert!(
        first["repository"].as_str().unwrap().starts_with("file://"),
        "{first}"
    );
    // Case does not matter, surrounding spaces are ignored, and the limit cuts the ranked list.
    assert_eq!(
        names(&search("q=%20NoTeS%20&limit=2").await.body),
        ["demo/notes", "demo/notes-plus"]
    );
    assert_eq!(names(&search("q=greeting").await.body), ["demo/hello-c"]);
    assert_eq!(
        names(&search("q=demo%2F").await.body),
        ["demo/hello-c", "demo/notes", "demo/notes-plus"]
    );
    assert!(names(&search("q=nothing-like-this").await.body).is_empty());

    for bad in [
        "",
        "q=",
        "q=%20%20",
        &format!("q={}", "x".repeat(65)),
        "q=notes&limit=0",
        "q=notes&limit=101",
        "q=notes&limit=many",
        "q=notes&page=2",
        "q=a%0Ab",
    ] {
        let reply = search(bad).await;
        assert_eq!(
            (reply.status, reply.problem()),
            (400, "invalid-request"),
            "{bad}: {}",
            reply.body
        );
    }
    assert_eq!(search(&format!("q={}", "x".repeat(64))).await.status, 200);

    // The endpoint, its parameters and the lifecycle endpoints are in the OpenAPI document.
    let openapi = api.get("/api/v1/openapi.json").await.body;
    let parameters: Vec<&str> = openapi["paths"]["/api/v1/search"]["get"]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("no search parameters: {}", openapi["paths"]))
        .iter()
        .map(|parameter| parameter["name"].as_str().unwrap())
        .collect();
    assert_eq!(parameters, ["q", "limit"]);
    for action in ["yank", "deprecate", "cancel"] {
        let path = format!("/api/v1/apps/{{publisher}}/{{app}}/releases/{{version}}/{action}");
        assert!(openapi["paths"][&path]["post"].is_object(), "{path}");
    }
}
