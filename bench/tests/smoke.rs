//! A tiny run of every scenario, so the load generator cannot rot; the
//! heavy runs are `chat-bench` without `--smoke` (see BENCHMARKS.md).

use serde_json::Value;

#[test]
fn every_scenario_runs_and_loses_nothing() {
    let out = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_chat-bench"))
        .args(["--smoke", "--out"])
        .arg(out.path())
        .status()
        .expect("chat-bench runs");
    assert!(status.success());
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("bench.json")).unwrap()).unwrap();

    for step in report["steady"].as_array().unwrap() {
        assert_eq!(step["errors"], 0, "{step}");
        assert_eq!(
            step["delivered"], step["sent"],
            "every chat message arrived: {step}"
        );
        assert!(step["p50_ms"].as_f64().unwrap() > 0.0);
    }
    for step in report["echo"].as_array().unwrap() {
        assert_eq!(step["delivered"], step["sent"], "{step}");
    }
    assert!(report["pgbench_per_sec"].as_f64().unwrap() > 0.0);
    assert_eq!(report["idle"]["sockets"], 20);
    assert!(report["idle"]["bytes_per_socket"].as_f64().unwrap() > 0.0);
    assert_eq!(report["storm"]["failures"], 0);
    assert!(report["storm"]["connects"].as_u64().unwrap() > 0);
    let fanout = &report["fanout"];
    let expected = fanout["messages"].as_u64().unwrap() * fanout["streams"].as_u64().unwrap();
    assert_eq!(
        fanout["deliveries"].as_u64().unwrap(),
        expected,
        "every stream got every message"
    );
    assert!(
        out.path().join("latency.png").exists(),
        "the chart was drawn"
    );
}
