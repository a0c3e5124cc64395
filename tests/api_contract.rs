//! The HTTP API against its own OpenAPI document, by schemathesis (property-based: it generates
//! requests from the document, valid and not) on a real coordinator: the document is valid
//! OpenAPI 3.1, and no request gets a 5xx or an answer its schema does not allow. `.ci/run`
//! installs schemathesis and openapi-spec-validator from PyPI; without them this test fails,
//! saying so.

mod farm;

use std::process::Command;

use farm::Farm;

fn python_tool(program: &str) -> Command {
    let probe = Command::new(program).arg("--version").output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "{program} is missing: pip install schemathesis openapi-spec-validator (.ci/run does)"
    );
    Command::new(program)
}

fn run(command: &mut Command, what: &str) -> String {
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_api_keeps_to_its_openapi_document() {
    let farm = Farm::start("api-contract");
    let document = format!("{}/api/openapi.json", farm.url);
    run(
        python_tool("python3").args([
            "-c",
            "import json, sys, urllib.request\n\
             from openapi_spec_validator import validate\n\
             validate(json.load(urllib.request.urlopen(sys.argv[1])))",
            &document,
        ]),
        "openapi-spec-validator",
    );
    let worker = farm.token(&["--role", "worker", "--name", "fuzz", "--threads", "1"]);
    let checks = "not_a_server_error,status_code_conformance,content_type_conformance,\
                  response_schema_conformance";
    // As the operator: every route but the stream (it lasts as long as its job) and revoking
    // (which would revoke the token the run uses).
    let admin = run(
        python_tool("st").args([
            "run",
            &document,
            "--header",
            &format!("Authorization: Bearer {}", farm.admin),
            "--checks",
            checks,
            "--exclude-path",
            "/api/jobs/{id}/events",
            "--exclude-path",
            "/api/tokens/{id}/revoke",
            "--max-examples",
            "40",
            // One thread: hypothesis' source inspection is not thread-safe on Python 3.11
            // ("AST constructor recursion depth mismatch"), and a fixed seed makes a failure
            // here one that can be replayed.
            "--workers",
            "1",
            "--seed",
            "1",
        ]),
        "schemathesis as an admin",
    );
    // As a worker, on the worker's own routes.
    let as_worker = run(
        python_tool("st").args([
            "run",
            &document,
            "--header",
            &format!("Authorization: Bearer {worker}"),
            "--checks",
            checks,
            "--include-path-regex",
            "^/api/(workers|workers/heartbeat|claims)$",
            "--max-examples",
            "40",
            "--seed",
            "1",
        ]),
        "schemathesis as a worker",
    );
    for out in [admin, as_worker] {
        let summary = out.lines().rev().find(|l| l.contains(" in ")).unwrap_or("");
        println!("{summary}");
        assert!(
            out.contains("generated"),
            "schemathesis tested nothing:\n{out}"
        );
    }
}
