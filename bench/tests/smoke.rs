//! A tiny run of every scenario (the crowd's too: 40 sockets over two edges
//! and two worker processes), so the load generator cannot rot; the heavy
//! runs are `chat-bench` without `--smoke` (see BENCHMARKS.md).

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
    let bookkeeping = &report["services"]["pgbench"];
    for variant in ["without_per_sec", "feed_only_per_sec", "with_per_sec"] {
        assert!(
            bookkeeping[variant].as_f64().unwrap() > 0.0,
            "{bookkeeping}"
        );
    }
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
    let crowd = &report["crowd"];
    assert_eq!(crowd["sockets"], 40, "{crowd}");
    assert_eq!(crowd["held"], 40, "every socket joined and stayed: {crowd}");
    assert_eq!(crowd["edges"], 2);
    assert_eq!(crowd["workers"], 2);
    assert!(crowd["memory"]["bytes_per_socket"].as_f64().unwrap() > 0.0);
    let flow = &crowd["flow"];
    assert!(flow["sent"].as_u64().unwrap() > 0, "{flow}");
    assert_eq!(flow["delivered"], flow["sent"], "nothing lost: {flow}");
    assert_eq!(flow["errors"], 0, "{flow}");
    assert!(
        out.path().join("latency.png").exists(),
        "the chart was drawn"
    );
}
